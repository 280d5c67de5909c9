// The non-UI Kotlin of the Android app (android/shared) on the JVM: pure unit tests of the
// PIN pad, formatting and error wording, then the view models driving the real core against a
// real server on loopback (bidkey-test-server). Harness (TestServer, MemoryKeystore, step,
// expect) from bindings/kotlin-test/Harness.kt. Run by bindings/run-kotlin-tests.sh.

import cn.bidkey.shared.*
import cn.bidkey.shared.scan.ScanViewModel
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.MutableStateFlow
import cn.bidkey.core.*
import java.nio.file.Files
import kotlin.system.exitProcess

fun pair(state: PairState, thisDevice: Boolean = true, locked: Boolean = false) = CertPair(
    pairId = "p1", enterpriseId = null, enterpriseName = null, state = state, signing = null,
    encryption = null, notAfter = 0, thisDevice = thisDevice, keyLocked = locked, pinTriesLeft = 5u,
)

fun unitTests() {
    step("PIN pad: 6 to 12 digits, wiped after take") {
        val pad = PinPad()
        repeat(5) { pad.press(it) }
        expect(!pad.complete && pad.take() == null) { "5 digits complete" }
        pad.press(5)
        expect(pad.dots.value == 6) { "dots ${pad.dots.value}" }
        repeat(10) { pad.press(9) }
        expect(pad.dots.value == 12) { "more than 12 digits" }
        pad.backspace()
        expect(pad.take() == "01234599999") { "pin" }
        expect(pad.dots.value == 0 && !pad.complete) { "not wiped" }
    }
    step("format: yuan, Beijing dates, validity") {
        expect(Format.yuan(37) == "¥0.37" && Format.yuan(150000) == "¥1500.00") { Format.yuan(37) }
        expect(Format.day(1_700_000_000) == "2023-11-15") { Format.day(1_700_000_000) }
        expect(Format.time(0) == "1970-01-01 08:00") { Format.time(0) }
        val now = 1_700_000_000L
        expect(Format.validity(now + 30 * 86_400, now, Lang.ZH).endsWith("（剩余30天）")) { Format.validity(now + 30 * 86_400, now, Lang.ZH) }
        expect(Format.validity(now - 1, now, Lang.EN).startsWith("Expired on")) { "expired" }
    }
    step("certificate card actions follow the state") {
        expect(Format.actions(pair(PairState.IN_FORCE)) == listOf(CertAction.CHANGE_PIN, CertAction.REPORT_LOSS, CertAction.REVOKE)) { "in force" }
        expect(CertAction.RENEW in Format.actions(pair(PairState.EXPIRING))) { "expiring" }
        expect(Format.actions(pair(PairState.SUSPENDED)) == listOf(CertAction.UNDO_LOSS_REPORT)) { "suspended" }
        expect(Format.actions(pair(PairState.EXPIRED)) == listOf(CertAction.REAPPLY)) { "expired" }
        expect(Format.actions(pair(PairState.IN_FORCE, thisDevice = false)).first() == CertAction.RECOVER) { "other device" }
        expect(CertAction.UNLOCK in Format.actions(pair(PairState.IN_FORCE, locked = true))) { "locked" }
        expect(Format.pairState(PairState.SUSPENDED, Lang.ZH) == "已挂失") { "zh state" }
    }
    step("errors in words, with the action to offer") {
        val wrong = UiError.of(BidkeyException.WrongPin(3u), Lang.ZH)
        expect(wrong.message == "证书密码错误，还可尝试3次。" && wrong.action == ErrorAction.PIN_AGAIN) { "$wrong" }
        expect(UiError.of(BidkeyException.WrongPin(1u), Lang.EN).message == "Wrong PIN. 1 try left before the key locks.") { "singular" }
        val locked = UiError.of(BidkeyException.KeyLocked(), Lang.ZH)
        expect(locked.action == ErrorAction.UNLOCK && locked.message.contains("锁定")) { "$locked" }
        val field = UiError.of(BidkeyException.InvalidInput("unified social credit code"), Lang.ZH)
        expect(field.message == "请检查统一社会信用代码。") { field.message }
        val server = UiError.of(BidkeyException.Server("sms_too_soon", "请稍后再试", "Wait", 42uL), Lang.ZH)
        expect(server.message == "请稍后再试（42秒后可重试）" && server.action == ErrorAction.RETRY && server.serverCode == "sms_too_soon") { "$server" }
        expect(UiError.of(BidkeyException.Network("down"), Lang.EN).action == ErrorAction.RETRY) { "network" }
        expect(UiError.of(BidkeyException.NotLoggedIn(), Lang.EN).action == ErrorAction.LOG_IN) { "login" }
        val seal = UiError.of(BidkeyException.InvalidInput("seal"), Lang.ZH)
        expect(seal.message.contains("印章")) { seal.message }
        // What to offer is the core's decision (nextStep); the shell only picks the button.
        val newer = BidkeyException.UpdateApp("wallet schema 9 is newer than this app (3)")
        expect(nextStep(newer) == NextStep.UPDATE_APP && UiError.of(newer, Lang.EN).action == ErrorAction.DISMISS) { "update" }
        expect(UiError.of(newer, Lang.ZH).message.contains("更新应用")) { UiError.of(newer, Lang.ZH).message }
        expect(nextStep(BidkeyException.Storage("disk")) == NextStep.REPORT) { "report" }
        expect(nextStep(BidkeyException.UnlockLimited(1L)) == NextStep.RETRY_LATER) { "later" }
    }
    step("scan page: the core's lines in the app's language, no words of the shell") {
        val view = ScanView(
            requestId = "r1", kind = ScanKind.SIGN, platformId = "p1", platformName = "交易中心",
            origin = "https://ggzy.example", verificationCode = "4821", expiresAt = 0, sessionId = null,
            action = ScanAction.Sign(uscc = null, documents = emptyList()), documents = emptyList(),
            certificate = null, decryptableFiles = emptyList(), pageZh = listOf("平台：交易中心"), pageEn = listOf("Platform: 交易中心"),
        )
        expect(cn.bidkey.shared.scan.ScanText.details(view, Lang.ZH) == view.pageZh) { "zh" }
        expect(cn.bidkey.shared.scan.ScanText.details(view, Lang.EN) == view.pageEn) { "en" }
        expect(cn.bidkey.shared.scan.ScanText.kind(ScanKind.DECRYPT, Lang.ZH) == "开标解密") { "kind" }
    }
}

/** The start-up paths of the app (Launcher): a bad build configuration shows a reason, never throws. */
fun startupTests() {
    val dir = { Files.createTempDirectory("bidkey-startup").toString() }
    step("start-up: https with a pinned CA but no PEM fails with the core's words, no crash") {
        val s = Launcher.start(AppConfig("https://bidkey.example.cn", AppConfig.Trust.PINNED, ""), dir(), MemoryKeystore(), Lang.ZH) { emptyList() }
        expect(s is Startup.Failed) { "$s" }
        val f = s as Startup.Failed
        val expected = coreText(CoreText.STARTUP_FAILED, Lang.ZH) + " " + errorMessage(BidkeyException.InvalidInput("server CA certificate"), Lang.ZH)
        expect(f.message == expected) { "${f.message} vs $expected" }
        expect(f.message!!.contains("服务器CA证书")) { f.message!! }
    }
    step("start-up: the system trust store with no usable roots fails; reading it throwing fails too") {
        val none = Launcher.start(AppConfig("https://bidkey.example.cn", AppConfig.Trust.SYSTEM, ""), dir(), MemoryKeystore(), Lang.EN) { listOf(byteArrayOf(1, 2, 3)) }
        expect(none is Startup.Failed && none.message!!.contains("system root certificates")) { "$none" }
        val thrown = Launcher.start(AppConfig("https://bidkey.example.cn", AppConfig.Trust.SYSTEM, ""), dir(), MemoryKeystore(), Lang.EN) { throw java.security.KeyStoreException("no AndroidCAStore") }
        expect(thrown is Startup.Failed && thrown.message == coreText(CoreText.STARTUP_FAILED, Lang.EN) && thrown.detail.contains("AndroidCAStore")) { "$thrown" }
    }
    step("start-up: the system roots (this JVM's cacerts) open the core for an https server") {
        val tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm())
        tmf.init(null as java.security.KeyStore?)
        val roots = tmf.trustManagers.filterIsInstance<javax.net.ssl.X509TrustManager>().flatMap { it.acceptedIssuers.toList() }.map { it.encoded }
        expect(roots.isNotEmpty()) { "the JVM has no trusted roots" }
        val s = Launcher.start(AppConfig("https://bidkey.example.cn", AppConfig.Trust.SYSTEM, ""), dir(), MemoryKeystore(), Lang.ZH) { roots }
        expect(s is Startup.Ready && s.lang == Lang.ZH) { "$s" }
    }
    step("start-up: a plain http server that is not loopback is refused with the core's words") {
        val s = Launcher.start(AppConfig("http://bidkey.example.cn", AppConfig.Trust.LOOPBACK, ""), dir(), MemoryKeystore(), Lang.EN) { emptyList() }
        expect(s is Startup.Failed && s.message!!.contains("https")) { "$s" }
        expect(Launcher.trust("system") == AppConfig.Trust.SYSTEM && Launcher.trust("Pinned") == AppConfig.Trust.PINNED) { "trust" }
    }
    step("the language chosen persists in the wallet across starts") {
        val d = dir()
        val cfg = AppConfig("http://127.0.0.1:9", AppConfig.Trust.LOOPBACK, "")
        val first = Launcher.start(cfg, d, MemoryKeystore(), Lang.ZH) { emptyList() } as Startup.Ready
        expect(first.lang == Lang.ZH && first.bidkey.language() == null) { "no choice yet" }
        first.bidkey.setLanguage(Lang.EN)
        val again = Launcher.start(cfg, d, MemoryKeystore(), Lang.ZH) { emptyList() } as Startup.Ready
        expect(again.lang == Lang.EN) { "${again.lang}" }
    }
    step("words come from the core: errors, pair states, deep links") {
        expect(UiError.of(BidkeyException.Keystore("cancelled"), Lang.ZH).message == errorMessage(BidkeyException.Keystore("x"), Lang.ZH)) { "keystore" }
        expect(errorMessage(BidkeyException.InvalidInput("qr"), Lang.EN).contains("QR")) { "qr" }
        expect(pairStateLabel(PairState.REVOKED, Lang.EN) == "Revoked") { "pair state" }
        expect(scanLinkUri("bidkey://scan?v=1") == null) { "incomplete link" }
    }
}

fun main(args: Array<String>) {
    val serverBinary = args.getOrNull(0) ?: error("usage: ShellTestKt <bidkey-test-server>")
    unitTests()
    startupTests()
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val lang = MutableStateFlow(Lang.ZH)
    TestServer(serverBinary).use { server ->
        val walletDir = Files.createTempDirectory("bidkey-shell-wallet")
        val config = BidkeyConfig(
            serverUrl = server.url,
            trust = ServerTrust.LoopbackOnly,
            walletDir = walletDir.toString(),
            pinKdf = PinKdf(memoryKib = 256u, iterations = 1u, parallelism = 1u),
        )
        val bidkey = Bidkey(config, MemoryKeystore())
        val settings = SettingsViewModel(bidkey, scope, lang)
        val login = LoginViewModel(bidkey, scope, lang, "JVM shell test") { settings.accountChanged(it) }
        val realName = RealNameViewModel(bidkey, scope, lang) { settings.accountChanged(it) }
        val enterprise = EnterpriseViewModel(bidkey, scope, lang)
        val certs = CertificatesViewModel(bidkey, scope, lang)
        val phone = "13900139000"
        val pin = "246810"

        step("logged out at first; a bad phone number is an error in Chinese") {
            expect(settings.account.value == null) { "logged in" }
            login.sendCode("139", SmsPurpose.SIGNUP).join()
            expect(login.error.value?.message == "请检查手机号码。") { "${login.error.value}" }
            expect(!login.busy.value) { "still busy" }
        }
        step("login view model: send a code (countdown starts), sign up") {
            login.sendCode(phone, SmsPurpose.SIGNUP).join()
            expect(login.error.value == null) { "${login.error.value}" }
            expect(login.resendIn.value > 0) { "no countdown" }
            login.signUp(phone, server.smsCode(phone)).join()
            expect(settings.account.value?.phoneMasked == "139****9000") { "${settings.account.value}" }
        }
        step("real-name view model") {
            realName.verify(RealNameMethod.ALIPAY, "李四", "110101199003071234").join()
            expect(realName.error.value?.action == ErrorAction.FIX_INPUT || realName.error.value?.action == ErrorAction.DISMISS) { "a bad ID number passed: ${realName.error.value}" }
            realName.verify(RealNameMethod.ALIPAY, "李四", "110101199003074514").join()
            expect(realName.error.value == null && realName.done.value) { "${realName.error.value}" }
            expect(settings.account.value?.realnameMethod == RealNameMethod.ALIPAY) { "${settings.account.value}" }
        }
        step("enterprise view model: search, micro-payment, polling until matched") {
            val uscc = "91500000MA5U8XGQ8Q"
            enterprise.search(uscc).join()
            expect(enterprise.search.value?.results?.single()?.actions?.contains(EnterpriseAction.MICROPAY) == true) { "${enterprise.search.value}" }
            enterprise.requestMicropayment(uscc, "重庆比德科技有限公司", "654321").join()
            val mp = enterprise.micropayment.value ?: throw AssertionError("${enterprise.error.value}")
            expect(enterprise.instructions()!!.contains(mp.reference)) { "instructions" }
            expect(enterprise.micropaymentText() == "等待银行到账，到账后自动完成认证。") { "${enterprise.micropaymentText()}" }
            val polling = enterprise.pollMicropayment(everyMillis = 100, maxPolls = 100)
            expect(server.bankCredit("shell-1", "654321", mp.amountFen, mp.reference) == "matched") { "no match" }
            polling.join()
            expect(enterprise.micropayment.value?.status == MicropaymentStatus.MATCHED) { "${enterprise.micropayment.value}" }
            expect(enterprise.mine.value.single().myRole == Role.ADMIN) { "${enterprise.mine.value}" }
            enterprise.loadMessages().join()
            expect(enterprise.messages.value.isNotEmpty()) { "no messages" }
        }
        step("admin view model: staff of the new enterprise; a seal needs a certificate's PIN") {
            val admin = AdminViewModel(bidkey, scope, lang, enterprise.mine.value.single().id)
            admin.load().join()
            expect(admin.staff.value.single().role == Role.ADMIN) { "${admin.staff.value}" }
            admin.addSeal("公章", sealPng(), pin).join()
            expect(admin.error.value != null && admin.seals.value.isEmpty()) { "a seal without a certificate: ${admin.error.value}" }
            admin.invite("12345").join()
            expect(admin.error.value?.action == ErrorAction.FIX_INPUT) { "${admin.error.value}" }
            admin.changeInfo(null, "王五").join()
            expect(admin.infoWarning() == "CA证书一经变更，不能恢复。") { "${admin.infoWarning()}" }
        }
        var nearId: String? = null
        step("platforms nearest first, the chosen one remembered; a zone per platform") {
            val eid = enterprise.mine.value.single().id
            val far = server.platform("北京市公共资源交易平台", "https://bj.example.cn", 39.9, 116.4, "91500000MA5U8XGQ8Q", "重庆比德科技有限公司")
            val near = server.platform("重庆市公共资源交易平台", "https://cq.example.cn", 29.56, 106.55, "91500000MA5U8XGQ8Q", "重庆比德科技有限公司")
            settings.loadPlatforms(29.5, 106.5).join()
            val listed = settings.platforms.value
            expect(listed.map { it.id } == listOf(near, far) && listed[0].distanceKm != null) { "$listed" }
            settings.selectPlatform(near).join()
            expect(settings.currentPlatform.value?.id == near && bidkey.currentPlatform()?.id == near) { "not remembered" }
            val admin = AdminViewModel(bidkey, scope, lang, eid)
            admin.bindZone(near).join()
            expect(admin.zones.value.single().platformId == near) { "${admin.error.value} ${admin.zones.value}" }
            nearId = near
            settings.clearPlatform().join()
            expect(settings.currentPlatform.value == null && bidkey.currentPlatform() == null) { "platform kept" }
        }
        step("certificates view model: apply, approve, pay, enrol with the PIN pad") {
            certs.applyPersonal().join()
            val app = certs.applications.value.single { it.kind == ApplicationKind.PERSONAL }
            expect(certs.statusText(app.status) == "待审核") { certs.statusText(app.status) }
            server.approve(app.id)
            certs.load().join()
            certs.pay(certs.applications.value.single { it.id == app.id }).join()
            val pad = PinPad()
            pin.forEach { pad.press(it - '0') }
            certs.enroll(app.id, pad.take()!!).join()
            expect(certs.error.value == null) { "${certs.error.value}" }
            val pairs = certs.list.value!!.inForce
            expect(pairs.size == 1 && Format.actions(pairs[0]).contains(CertAction.REVOKE)) { "$pairs" }
        }
        step("a wrong PIN: the view model asks for it again in the app's language") {
            val serial = certs.list.value!!.inForce.single().signing!!.serial
            certs.revoke(serial, "000000").join()
            val e = certs.error.value
            expect(e?.action == ErrorAction.PIN_AGAIN && e.message == "证书密码错误，还可尝试4次。") { "$e" }
            lang.value = Lang.EN
            certs.changePin("111111", "222222").join()
            expect(certs.error.value?.message == "Wrong PIN. 3 tries left before the key locks.") { "${certs.error.value}" }
            expect(certs.revokeWarning().startsWith("A revoked certificate")) { certs.revokeWarning() }
        }
        step("admin view model with the PIN: a seal, a grant per platform and its revocation") {
            val near = nearId!!
            val admin = AdminViewModel(bidkey, scope, lang, enterprise.mine.value.single().id)
            admin.addSeal("公章", sealPng(), pin).join()
            expect(admin.seals.value.single().name == "公章") { "${admin.error.value}" }
            val me = settings.account.value!!.id
            admin.grant(me, near, "000000").join()
            expect(admin.error.value?.action == ErrorAction.PIN_AGAIN && admin.grants.value.isEmpty()) { "${admin.error.value}" }
            admin.grant(me, near, pin).join()
            val granted = admin.grants.value.single()
            expect(granted.platformId == near && granted.revokedAt == null) { "${admin.error.value} $granted" }
            admin.revokeGrant(granted.id, pin).join()
            admin.loadGrants(near).join()
            expect(admin.grants.value.isEmpty()) { "revoked grant still listed: ${admin.grants.value}" }
            admin.loadGrants(near, includeRevoked = true).join()
            expect(admin.grants.value.single().revokedAt != null) { "history: ${admin.grants.value}" }
        }
        val scan = ScanViewModel(bidkey, scope, lang)
        var scanPlatformId = ""
        step("scan view model: a platform's login request, its page, a wrong then the right PIN") {
            scanPlatformId = server.scanPlatform("https://ggzy.cq.example.invalid", "重庆市公共资源交易中心")
            val req = server.loginRequest()
            scan.scanned(req.uri)!!.join()
            val view = scan.request.value ?: throw AssertionError("${scan.error.value}")
            expect(view.kind == ScanKind.LOGIN) { "$view" }
            expect(scan.scanned(req.uri) == null) { "the same QR was fetched twice" }
            val lines = scan.details()
            expect(lines.any { it.contains(req.code) } && lines.any { it.contains("重庆市公共资源交易中心") }) { "$lines" }
            expect(lines.any { it.startsWith("Certificate: ") } && !scan.offersAutoConfirm()) { "$lines" }
            scan.confirm("000000").join()
            expect(scan.error.value?.action == ErrorAction.PIN_AGAIN && scan.request.value != null) { "${scan.error.value}" }
            scan.confirm(pin).join()
            expect(scan.error.value == null && scan.request.value == null) { "${scan.error.value}" }
            expect(scan.outcome.value?.kind == ScanKind.LOGIN && scan.outcome.value?.signatures == 1u) { "${scan.outcome.value}" }
            val serial = view.certificate!!.serial
            expect(server.scanResult(req.id) == "verified $serial -") { "platform side" }
        }
        step("sessions: auto-confirm confirms the session's login by itself; off again it asks; end") {
            val req = server.sessionRequest()
            scan.scanned(req.uri)!!.join()
            expect(scan.offersAutoConfirm()) { "${scan.request.value} ${scan.error.value}" }
            expect(scan.details().any { it.contains("10 min") }) { "${scan.details()}" }
            scan.confirm(pin, autoConfirm = true).join()
            val sid = scan.outcome.value?.session?.sessionId ?: throw AssertionError("${scan.error.value}")
            val serial = bidkey.localCertificates().single { it.usage == "signing" }.serial
            expect(server.scanResult(req.id) == "verified $serial - $sid auto") { "session reply" }
            expect(scan.sessions.value.single().autoConfirm) { "${scan.sessions.value}" }
            val first = server.inSession(sid)
            val got = scan.receiveOnce(10uL)
            expect(got?.done?.autoConfirmed == true && scan.autoConfirmed.value.size == 1 && scan.request.value == null) { "$got" }
            expect(server.scanResult(first) == "verified $serial - auto") { "auto-confirmed reply" }
            scan.stopAutoConfirm(sid).join()
            expect(!scan.sessions.value.single().autoConfirm) { "${scan.sessions.value}" }
            val second = server.inSession(sid)
            scan.receiveOnce(10uL)
            expect(scan.request.value?.requestId == second && scan.request.value?.sessionId == sid) { "${scan.request.value}" }
            scan.reject("not me").join()
            expect(server.scanResult(second) == "rejected not me") { "rejection" }
            scan.startAutoConfirm(sid, "000000").join()
            expect(scan.error.value?.action == ErrorAction.PIN_AGAIN) { "${scan.error.value}" }
            scan.startAutoConfirm(sid, pin).join()
            expect(scan.error.value == null && scan.sessions.value.single().autoConfirm) { "${scan.error.value}" }
            val third = server.inSession(sid)
            expect(scan.receiveOnce(10uL)?.done != null && scan.autoConfirmed.value.size == 2) { "not auto-confirmed again" }
            expect(server.scanResult(third) == "verified $serial - auto") { "auto-confirmed again" }
            scan.endSession(sid).join()
            expect(scan.error.value == null && scan.openSessions(System.currentTimeMillis() / 1000).isEmpty()) { "${scan.error.value} ${scan.sessions.value}" }
        }
        step("scan view model: an expired request is an error with the server's code") {
            val req = server.loginRequest()
            server.advance(121)
            scan.scanned(server.qr(req.id))!!.join()
            expect(scan.error.value?.serverCode == "scan_expired" && scan.request.value == null) { "${scan.error.value}" }
        }
        step("bids view model: nobody granted is a warning; encrypt, self-check (a damaged upload in words), pre-authorise, withdraw") {
            val claim = bidkey.claimEnterprise(
                "91350100M000100Y43", "测试建设有限公司", null,
                listOf(MaterialFile("营业执照.png", "image/png", sealPng())),
            )
            val eid = claim.enterpriseId!!
            server.approve(claim.id)
            certs.load().join()
            certs.pay(certs.applications.value.single { it.id == claim.id }).join()
            certs.enroll(claim.id, pin).join()
            expect(certs.error.value == null) { "${certs.error.value}" }
            // The platform with a certificate (a pre-authorisation is sealed to it).
            val near = scanPlatformId
            val bids = BidsViewModel(bidkey, scope, lang)
            bids.loadRecipients(eid, near).join()
            expect(bids.noRecipientsWarning()?.startsWith("No member of the enterprise") == true) { "${bids.noRecipientsWarning()} ${bids.error.value}" }
            val dir = java.nio.file.Files.createTempDirectory("bidkey-shell-bid")
            val plain = dir.resolve("bid.pdf")
            java.nio.file.Files.write(plain, ByteArray(70_000) { (it * 7).toByte() })
            val out = dir.resolve("bid.pdf.bid")
            val target = BidTarget(eid, near, "CQ-2026-SHELL-7", "bid.pdf", null)
            bids.encrypt(target, plain.toString(), out.toString()).join()
            expect(bids.error.value?.action == ErrorAction.DISMISS && bids.encrypted.value == null) { "${bids.error.value}" }
            val admin = AdminViewModel(bidkey, scope, lang, eid)
            admin.grant(settings.account.value!!.id, near, pin).join()
            bids.loadRecipients(eid, near).join()
            expect(bids.recipients.value?.size == 1 && bids.noRecipientsWarning() == null) { "${bids.recipients.value}" }
            bids.encrypt(target, plain.toString(), out.toString()).join()
            expect(bids.encrypted.value?.plaintextLen == 70_000uL) { "${bids.error.value}" }
            bids.selfCheck(out.toString(), pin).join()
            expect(bids.selfCheckText()?.startsWith("Opens: checked") == true) { "${bids.selfCheckText()} ${bids.error.value}" }
            val damaged = dir.resolve("damaged.bid")
            val bytes = java.nio.file.Files.readAllBytes(out)
            bytes[bytes.size - 50] = (bytes[bytes.size - 50].toInt() xor 0x40).toByte()
            java.nio.file.Files.write(damaged, bytes)
            lang.value = Lang.ZH
            bids.selfCheck(damaged.toString(), pin).join()
            expect(bids.selfCheckText()?.contains("已损坏") == true) { "${bids.selfCheckText()}" }
            expect(bids.preauthExplained().startsWith("预授权开标")) { bids.preauthExplained() }
            bids.preauthorize(out.toString(), "000000", System.currentTimeMillis() / 1000 + 86_400).join()
            expect(bids.error.value?.action == ErrorAction.PIN_AGAIN && bids.preauthorizations.value.isEmpty()) { "${bids.error.value}" }
            bids.preauthorize(out.toString(), pin, System.currentTimeMillis() / 1000 + 86_400).join()
            val p = bids.preauthorizations.value.single()
            expect(p.tenderId == "CQ-2026-SHELL-7" && p.withdrawnAt == null) { "$p ${bids.error.value}" }
            bids.withdraw(p.id).join()
            expect(bids.preauthorizations.value.single().withdrawnAt != null) { "${bids.preauthorizations.value}" }
            lang.value = Lang.EN
            dir.toFile().deleteRecursively()
        }
        step("settings: log out") {
            settings.logOut().join()
            expect(settings.account.value == null && settings.error.value == null) { "${settings.error.value}" }
            certs.load().join()
            expect(certs.error.value?.action == ErrorAction.LOG_IN) { "${certs.error.value}" }
        }
        bidkey.close()
        walletDir.toFile().deleteRecursively()
    }
    scope.cancel()
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
