// The Kotlin bindings on the JVM against a real Bidkey server on loopback.
//
// Usage: java -Djna.library.path=<dir of libbidkey_ffi.so> -cp ... BindingsTestKt <bidkey-test-server>
// Run through bindings/run-kotlin-tests.sh. The last line is "N passed, M failed"; the exit
// status is non-zero when anything failed.

import kotlinx.coroutines.runBlocking
import cn.bidkey.core.*
import java.nio.file.Files
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    val serverBinary = args.getOrNull(0) ?: error("usage: BindingsTestKt <bidkey-test-server>")
    val phone = "13800138000"
    val pin = "123456"
    TestServer(serverBinary).use { server ->
        val walletDir = Files.createTempDirectory("bidkey-kotlin-wallet")
        val keystore = MemoryKeystore()
        // A low PIN KDF keeps the test quick; phones leave pinKdf unset.
        val config = BidkeyConfig(
            serverUrl = server.url,
            trust = ServerTrust.LoopbackOnly,
            walletDir = walletDir.toString(),
            pinKdf = PinKdf(memoryKib = 256u, iterations = 1u, parallelism = 1u),
        )
        val bidkey = Bidkey(config, keystore)
        var application: Application? = null
        var enrolled: EnrolledPair? = null
        val uscc = "91500000MA5U8XGQ8Q"
        val enterpriseName = "重庆比德科技有限公司"
        var enterpriseId = ""

        step("a bad phone number is InvalidInput") {
            try {
                bidkey.sendSmsCode("12345", SmsPurpose.SIGNUP)
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
                expect(e.field == "phone number") { "field ${e.field}" }
            }
        }
        step("sign up with the SMS code") {
            bidkey.sendSmsCode(phone, SmsPurpose.SIGNUP)
            val account = bidkey.signUp(phone, server.smsCode(phone), "Kotlin JVM test")
            expect(account.phoneMasked == "138****8000") { "masked ${account.phoneMasked}" }
            expect(bidkey.account()?.id == account.id) { "account() after sign-up" }
            expect(keystore.seals.get() > 0) { "the login was not sealed by the Kotlin keystore" }
        }
        step("real-name verification") {
            val account = bidkey.verifyRealName(RealName(RealNameMethod.CFCA, "张三", "110101199003074514"))
            expect(account.realnameMethod == RealNameMethod.CFCA) { "$account" }
            expect(account.idNumberMasked != null) { "$account" }
        }
        step("a USCC is checked locally") {
            expect(checkUscc(" 91500000ma5u8xgq8q ") == uscc) { "normalised" }
            try {
                checkUscc("91500000MA5U8XGQ8A")
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
            }
        }
        step("search: an unclaimed enterprise offers the micro-payment") {
            val found = bidkey.searchEnterprises(uscc)
            expect(found.by == SearchBy.USCC) { "$found" }
            expect(EnterpriseAction.MICROPAY in found.results.single().actions) { "$found" }
        }
        step("claim by micro-payment: a wrong amount waits, the right one makes me admin") {
            val mp = bidkey.requestMicropayment(uscc, enterpriseName, "123456")
            expect(mp.status == MicropaymentStatus.PENDING && mp.amountFen in 1L..99L) { "$mp" }
            val zh = micropaymentInstructions(mp, Lang.ZH)
            expect(zh.contains(mp.reference) && zh.contains(mp.payeeName)) { zh }
            expect(micropaymentStatusText(mp.status, Lang.EN).startsWith("Waiting")) { "status text" }
            val wrong = if (mp.amountFen == 99L) 98L else mp.amountFen + 1
            expect(server.bankCredit("kt-wrong", "123456", wrong, mp.reference) == "unmatched") { "wrong amount matched" }
            expect(bidkey.micropayment(mp.id).status == MicropaymentStatus.PENDING) { "not pending" }
            expect(server.bankCredit("kt-right", "123456", mp.amountFen, "对公打款认证 ${mp.reference}") == "matched") { "no match" }
            val done = bidkey.micropayment(mp.id)
            expect(done.status == MicropaymentStatus.MATCHED && done.role == Role.ADMIN) { "$done" }
            expect(bidkey.micropayments().any { it.id == mp.id }) { "micropayments()" }
            enterpriseId = mp.enterpriseId
            val mine = bidkey.myEnterprises().single { it.id == enterpriseId }
            expect(mine.myRole == Role.ADMIN && mine.uscc == uscc) { "$mine" }
            expect(bidkey.messages().any { it.textZh.contains("对公打款认证成功") }) { "no message" }
        }
        step("admin: staff; seals and the role need the PIN of a certificate (none yet)") {
            val staff = bidkey.staff(enterpriseId)
            expect(staff.single().role == Role.ADMIN) { "$staff" }
            try {
                bidkey.addSeal(enterpriseId, "公章", sealPng(), pin)
                throw AssertionError("no error")
            } catch (e: BidkeyException.NotFound) {
            }
            expect(bidkey.seals(enterpriseId).isEmpty()) { "a seal without the PIN" }
            try {
                bidkey.addSeal(enterpriseId, "坏章", "not a png".toByteArray(), pin)
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
            }
            try {
                bidkey.transferAdmin(enterpriseId, "nobody", pin)
                throw AssertionError("no error")
            } catch (e: BidkeyException.NotFound) {
            }
            val change = bidkey.changeEnterpriseInfo(enterpriseId, null, "李四")
            expect(change.warningZh.contains("不能恢复")) { change.warningZh }
            expect(change.application.kind == ApplicationKind.CHANGE_INFO) { "${change.application}" }
            expect(bidkey.grants(enterpriseId, GrantFilter()).isEmpty()) { "grants" }
            expect(bidkey.zones(enterpriseId).isEmpty()) { "zones" }
        }
        step("platforms need no login; none chosen yet") {
            bidkey.platforms(Location(29.56, 106.55))
            expect(bidkey.currentPlatform() == null) { "a platform is chosen" }
            try {
                bidkey.platforms(Location(123.0, 0.0))
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
                expect(e.field == "location") { e.field }
            }
        }
        step("apply for a personal certificate") {
            val app = bidkey.applyPersonalCertificate()
            expect(app.kind == ApplicationKind.PERSONAL) { "$app" }
            expect(app.status == Status.PENDING_REVIEW) { "$app" }
            application = app
        }
        step("the operator approves; the applicant pays (sandbox)") {
            val id = application!!.id
            server.approve(id)
            val approved = bidkey.application(id)
            expect(approved.status == Status.AWAITING_PAYMENT) { "$approved" }
            expect(statusLabel(approved.status, Lang.ZH) == "待支付") { statusLabel(approved.status, Lang.ZH) }
            val order = bidkey.payOrder(approved.order!!.id)
            expect(order.status == Status.PAID) { "$order" }
            expect(bidkey.applications().any { it.id == id && it.status == Status.PAID }) { "applications()" }
        }
        step("enroll with a PIN") {
            val seals = keystore.seals.get()
            val pair = bidkey.enroll(application!!.id, pin)
            expect(pair.signingSerial.isNotEmpty() && pair.encryptionSerial.isNotEmpty()) { "$pair" }
            expect(keystore.seals.get() > seals) { "the key share was not sealed by the Kotlin keystore" }
            enrolled = pair
        }
        step("certificates: on the server and in the wallet") {
            val pair = enrolled!!
            val list = bidkey.certificates()
            val view = list.inForce.single { it.pairId == pair.pairId }
            expect(view.signing?.serial == pair.signingSerial) { "$view" }
            expect(view.thisDevice && !view.keyLocked && view.pinTriesLeft == 5u) { "$view" }
            val local = bidkey.localCertificates().map { it.serial }.toSet()
            expect(local == setOf(pair.signingSerial, pair.encryptionSerial)) { "$local" }
        }
        step("sign a message") {
            val sig = bidkey.signMessage(enrolled!!.signingSerial, pin, "投标文件摘要".toByteArray())
            expect(sig.der.isNotEmpty()) { "empty DER signature" }
            expect(sig.raw.size == 64) { "raw signature of ${sig.raw.size} bytes" }
        }
        step("a wrong PIN is WrongPin with 4 tries left") {
            try {
                bidkey.signMessage(enrolled!!.signingSerial, "000000", "bid".toByteArray())
                throw AssertionError("no error")
            } catch (e: BidkeyException.WrongPin) {
                expect(e.triesLeft == 4u) { "tries left ${e.triesLeft}" }
            }
        }
        step("change the PIN; the old one is then wrong") {
            bidkey.changePin(pin, "654321")
            bidkey.signMessage(enrolled!!.signingSerial, "654321", "bid".toByteArray())
            try {
                bidkey.signMessage(enrolled!!.signingSerial, pin, "bid".toByteArray())
                throw AssertionError("no error")
            } catch (e: BidkeyException.WrongPin) {
            }
            bidkey.changePin("654321", pin)
        }
        step("admin actions with the PIN: a seal added, renamed, deleted; a wrong PIN adds none") {
            try {
                bidkey.addSeal(enterpriseId, "公章", sealPng(), "000000")
                throw AssertionError("no error")
            } catch (e: BidkeyException.WrongPin) {
            }
            expect(bidkey.seals(enterpriseId).isEmpty()) { "a seal with a wrong PIN" }
            val seal = bidkey.addSeal(enterpriseId, "公章", sealPng(), pin)
            expect(seal.width == 64u && seal.height == 64u) { "$seal" }
            expect(bidkey.sealImage(enterpriseId, seal.id).contentEquals(sealPng())) { "image differs" }
            expect(bidkey.renameSeal(enterpriseId, seal.id, "合同章").name == "合同章") { "rename" }
            bidkey.deleteSeal(enterpriseId, seal.id)
            expect(bidkey.seals(enterpriseId).isEmpty()) { "seal not deleted" }
            try {
                bidkey.transferAdmin(enterpriseId, "nobody", pin)
                throw AssertionError("no error")
            } catch (e: BidkeyException.Server) {
                expect(e.code == "not_member" && e.messageZh.isNotEmpty()) { "$e" }
            }
        }
        step("biometric confirmation: a refused fingerprint is Keystore and unlocks nothing; the PIN still counts") {
            val serial = enrolled!!.signingSerial
            suspend fun triesLeft() = bidkey.certificates().inForce.single { it.signing?.serial == serial }.pinTriesLeft
            expect(!bidkey.biometric()) { "on before it was turned on" }
            val before = keystore.prompts.get()
            bidkey.setBiometric(true)
            expect(bidkey.biometric()) { "not on" }
            expect(keystore.prompts.get() - before >= 2) { "each share re-sealed with the user key: ${keystore.prompts.get() - before} prompts" }
            val tries = triesLeft()
            keystore.personAgrees = false
            for (p in listOf(pin, "000000")) {
                try {
                    bidkey.signMessage(serial, p, "bid".toByteArray())
                    throw AssertionError("signed without the fingerprint")
                } catch (e: BidkeyException.Keystore) {
                    expect(errorMessage(e, Lang.ZH).contains("指纹")) { errorMessage(e, Lang.ZH) }
                }
            }
            val after = triesLeft()
            expect(after == tries) { "the server heard of a PIN: $after vs $tries" }
            try {
                bidkey.setBiometric(false)
                throw AssertionError("turned off without the fingerprint")
            } catch (e: BidkeyException.Keystore) {
            }
            expect(bidkey.biometric()) { "turned off by a refusal" }
            keystore.personAgrees = true
            expect(bidkey.signMessage(serial, pin, "bid".toByteArray()).der.isNotEmpty()) { "no signature" }
            try {
                bidkey.signMessage(serial, "000000", "bid".toByteArray())
                throw AssertionError("a wrong PIN signed")
            } catch (e: BidkeyException.WrongPin) {
                expect(e.triesLeft < tries) { "the server did not count the PIN: ${e.triesLeft}" }
            }
            // A restart keeps the setting.
            val again = Bidkey(config, keystore)
            expect(again.biometric()) { "not kept in the wallet" }
            again.destroy()
            bidkey.setBiometric(false)
            expect(!bidkey.biometric()) { "still on" }
        }
        var loginRequest: PlatformRequest? = null
        var platformId = ""
        step("scan a login request made by the platform SDK: who asks and the four digits") {
            platformId = server.scanPlatform("https://ggzy.cq.example.invalid", "重庆市公共资源交易中心")
            val req = server.loginRequest()
            val view = bidkey.scan(req.uri)
            expect(view.kind == ScanKind.LOGIN && view.requestId == req.id) { "$view" }
            expect(view.platformName == "重庆市公共资源交易中心") { view.platformName }
            expect(view.origin == "https://ggzy.cq.example.invalid") { view.origin }
            expect(view.verificationCode == req.code && view.verificationCode.length == 4) { "${view.verificationCode} vs ${req.code}" }
            expect(view.action == ScanAction.Login(null)) { "${view.action}" }
            expect(view.certificate?.serial == enrolled!!.signingSerial) { "${view.certificate}" }
            loginRequest = req
        }
        step("confirming with a wrong PIN is WrongPin; the right PIN logs in and the platform verifies") {
            val req = loginRequest!!
            try {
                bidkey.confirmScan(req.id, "000000")
                throw AssertionError("no error")
            } catch (e: BidkeyException.WrongPin) {
                expect(e.triesLeft < 5u) { "tries left ${e.triesLeft}" }
            }
            val done = bidkey.confirmScan(req.id, pin)
            expect(done.kind == ScanKind.LOGIN && done.signatures == 1u && done.session == null) { "$done" }
            val result = server.scanResult(req.id)
            expect(result == "verified ${enrolled!!.signingSerial} -") { result }
        }
        step("same-device use: a bidkey:// link tapped on the phone is the QR code, verified as a scanned one") {
            val req = server.loginRequest()
            // A platform page may percent-encode the relay in the link it offers.
            val relay = Regex("relay=([^&]*)").find(req.uri)!!.groupValues[1]
            val link = req.uri.replace("relay=$relay", "relay=" + java.net.URLEncoder.encode(relay, "UTF-8"))
            expect(link != req.uri) { "the link is not encoded: $link" }
            expect(scanLinkUri(link) == req.uri) { "${scanLinkUri(link)} vs ${req.uri}" }
            expect(scanLinkUri("https://evil.example/scan?v=1") == null) { "not a scan link" }
            val view = bidkey.scanLink(link)
            expect(view.requestId == req.id && view.verificationCode == req.code) { "$view" }
            expect(view.pageZh.any { it == "校验码：${req.code}（请与平台页面核对）" }) { "${view.pageZh}" }
            val done = bidkey.confirmScan(req.id, pin)
            expect(done.kind == ScanKind.LOGIN) { "$done" }
            expect(server.scanResult(req.id) == "verified ${enrolled!!.signingSerial} -") { "platform side" }
            // A link whose request was tampered with fails the platform's signature check
            // or the relay's code, exactly as a doctored QR code would.
            val other = server.loginRequest()
            val forged = other.uri.replace(Regex("code=[0-9a-f]{64}"), "code=" + "0".repeat(64))
            try {
                bidkey.scanLink(forged)
                throw AssertionError("no error")
            } catch (e: BidkeyException.Server) {
                expect(e.code.startsWith("scan_")) { e.code }
            }
            try {
                bidkey.scanLink("bidkey://login?x=1")
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
                expect(e.field == "qr") { e.field }
            }
        }
        step("a request scanned after it expired is Server(scan_expired); a foreign relay is InvalidInput") {
            val req = server.loginRequest()
            server.advance(121)
            try {
                bidkey.scan(server.qr(req.id))
                throw AssertionError("no error")
            } catch (e: BidkeyException.Server) {
                expect(e.code == "scan_expired") { e.code }
                expect(e.messageZh.isNotEmpty()) { "no message" }
            }
            expect(server.scanResult(req.id) == "refused scan_expired") { "platform side" }
            val foreign = req.uri.replace(Regex("relay=[^&]*"), "relay=http://127.0.0.2:9")
            try {
                bidkey.scan(foreign)
                throw AssertionError("no error")
            } catch (e: BidkeyException.InvalidInput) {
                expect(e.field == "qr_relay") { e.field }
            }
        }
        step("a bid: encrypted by the bidder to the granted enterprise certificate, self-checked, pre-authorised and withdrawn") {
            val bidUscc = "91350100M000100Y43"
            val claim = bidkey.claimEnterprise(
                bidUscc, "测试建设有限公司", null,
                listOf(MaterialFile("营业执照.png", "image/png", sealPng())),
            )
            val bidEnterprise = claim.enterpriseId!!
            server.approve(claim.id)
            bidkey.payOrder(bidkey.application(claim.id).order!!.id)
            val pair = bidkey.enroll(claim.id, pin)
            val target = BidTarget(bidEnterprise, platformId, "CQ-2026-KT-001", "投标文件.pdf", null)
            val dir = Files.createTempDirectory("bidkey-kotlin-bid")
            val plain = dir.resolve("投标文件.pdf")
            Files.write(plain, ByteArray(300_000) { (it % 251).toByte() })
            val sealed = dir.resolve("投标文件.pdf.bid")
            // Nobody granted for the platform yet: a bid no one could open is refused.
            expect(bidkey.bidRecipients(bidEnterprise, platformId).isEmpty()) { "recipients before the grant" }
            try {
                bidkey.encryptBidFile(target, plain.toString(), sealed.toString())
                throw AssertionError("encrypted to nobody")
            } catch (e: BidkeyException.NotFound) {
            }
            expect(!Files.exists(sealed)) { "a file was left behind" }
            bidkey.addGrant(bidEnterprise, bidkey.account()!!.id, platformId, pin)
            val recipients = bidkey.bidRecipients(bidEnterprise, platformId)
            expect(recipients.map { it.serial } == listOf(pair.encryptionSerial)) { "$recipients vs ${pair.encryptionSerial}" }
            val enc = bidkey.encryptBidFile(target, plain.toString(), sealed.toString())
            expect(enc.plaintextLen == 300_000uL && enc.recipients == recipients) { "$enc" }
            val bytes = Files.readAllBytes(sealed)
            expect(!String(bytes, Charsets.ISO_8859_1).contains(String(Files.readAllBytes(plain).copyOfRange(0, 64), Charsets.ISO_8859_1))) { "plaintext in the bid file" }

            // 解密自检 on the file as uploaded.
            when (val check = bidkey.selfCheckBidFile(sealed.toString(), pin)) {
                is BidSelfCheck.Passed -> {
                    expect(check.recipientSerial == pair.encryptionSerial && check.bindingHash == enc.bindingHash) { "$check" }
                    expect(check.plaintextLen == 300_000uL && !check.shareOnly && check.tenderId == "CQ-2026-KT-001") { "$check" }
                }
                is BidSelfCheck.Failed -> throw AssertionError("self-check failed: ${check.reasonEn}")
            }
            try {
                bidkey.selfCheckBidFile(sealed.toString(), "000000")
                throw AssertionError("checked with a wrong PIN")
            } catch (e: BidkeyException.WrongPin) {
            }
            // A damaged upload fails with a reason the bidder can act on.
            val damaged = dir.resolve("damaged.bid")
            Files.write(damaged, bytes.copyOf().also { it[it.size - 100] = (it[it.size - 100].toInt() xor 1).toByte() })
            when (val check = bidkey.selfCheckBidFile(damaged.toString(), pin)) {
                is BidSelfCheck.Failed -> expect(check.reasonZh.contains("重新上传") && check.reasonEn.contains("upload it again")) { "${check.reasonZh} / ${check.reasonEn}" }
                is BidSelfCheck.Passed -> throw AssertionError("a damaged file passed")
            }

            // 预授权开标 for this file, seen in the audit, withdrawn before the opening.
            val openingAt = System.currentTimeMillis() / 1000 + 86_400
            val id = bidkey.preauthorizeOpening(sealed.toString(), pin, openingAt)
            val listed = bidkey.preauthorizations().single { it.id == id }
            expect(listed.bindingHash == enc.bindingHash && listed.openingAt == openingAt) { "$listed" }
            expect(listed.withdrawnAt == null && listed.releasedAt == null) { "$listed" }
            try {
                bidkey.preauthorizeOpening(sealed.toString(), "000000", openingAt)
                throw AssertionError("pre-authorised with a wrong PIN")
            } catch (e: BidkeyException.WrongPin) {
            }
            expect(bidkey.preauthorizations().size == 1) { "a deposit without the PIN" }
            bidkey.withdrawPreauthorization(id)
            expect(bidkey.preauthorizations().single { it.id == id }.withdrawnAt != null) { "not withdrawn" }
            dir.toFile().deleteRecursively()
        }
        step("no sessions yet; none waiting") {
            expect(bidkey.scanSessions().isEmpty()) { "sessions" }
            expect(bidkey.nextSessionRequest(0uL) == null) { "a session request" }
        }
        step("the right PIN still signs; log out keeps the certificates") {
            bidkey.signMessage(enrolled!!.signingSerial, pin, "bid".toByteArray())
            bidkey.logOut()
            expect(bidkey.account() == null) { "still logged in" }
            expect(bidkey.localCertificates().size == 4) { "certificates gone: ${bidkey.localCertificates().size} of 4 (personal and enterprise pairs)" }
            try {
                bidkey.certificates()
                throw AssertionError("no error")
            } catch (e: BidkeyException.NotLoggedIn) {
            }
        }
        bidkey.close()
        walletDir.toFile().deleteRecursively()
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
