// The Kotlin bindings on the JVM against a real Bidkey server on loopback.
//
// Usage: java -Djna.library.path=<dir of libbidkey_ffi.so> -cp ... BindingsTestKt <bidkey-test-server>
// Run through bindings/run-kotlin-tests.sh. The last line is "N passed, M failed"; the exit
// status is non-zero when anything failed.

import kotlinx.coroutines.runBlocking
import uniffi.bidkey.*
import java.io.BufferedReader
import java.io.InputStreamReader
import java.io.PrintWriter
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.security.SecureRandom
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import kotlin.system.exitProcess

/** AES-256-GCM keys in memory, one per alias: what an Android shell does with Android Keystore. */
class MemoryKeystore : DeviceKeystore {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    val seals = AtomicInteger()
    val opens = AtomicInteger()

    private fun key(alias: String): SecretKey =
        keys.computeIfAbsent(alias) { KeyGenerator.getInstance("AES").apply { init(256) }.generateKey() }

    override fun seal(alias: String, plaintext: ByteArray): ByteArray {
        seals.incrementAndGet()
        val iv = ByteArray(12).also { SecureRandom().nextBytes(it) }
        val c = Cipher.getInstance("AES/GCM/NoPadding")
        c.init(Cipher.ENCRYPT_MODE, key(alias), GCMParameterSpec(128, iv))
        c.updateAAD(alias.toByteArray())
        return iv + c.doFinal(plaintext)
    }

    override fun open(alias: String, sealed: ByteArray): ByteArray {
        opens.incrementAndGet()
        if (sealed.size < 12 + 16) throw BidkeyException.Keystore("sealed data too short")
        val c = Cipher.getInstance("AES/GCM/NoPadding")
        c.init(Cipher.DECRYPT_MODE, key(alias), GCMParameterSpec(128, sealed, 0, 12))
        c.updateAAD(alias.toByteArray())
        try {
            return c.doFinal(sealed, 12, sealed.size - 12)
        } catch (e: AEADBadTagException) {
            throw BidkeyException.Keystore("sealed data does not open with this key")
        }
    }
}

/** The helper process `bidkey-test-server`: a server on loopback, SMS codes on request. */
class TestServer(binary: String) : AutoCloseable {
    private val process = ProcessBuilder(binary).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    private val out = BufferedReader(InputStreamReader(process.inputStream))
    private val cmd = PrintWriter(process.outputStream, true)
    val url: String
    val operatorToken: String

    init {
        val hello = out.readLine() ?: error("bidkey-test-server printed nothing")
        url = field(hello, "url")
        operatorToken = field(hello, "operator_token")
    }

    private fun field(json: String, name: String): String =
        Regex("\"$name\":\"([^\"]*)\"").find(json)?.groupValues?.get(1) ?: error("no $name in $json")

    private fun ask(line: String): String {
        cmd.println(line)
        val answer = out.readLine() ?: error("bidkey-test-server ended")
        check(!answer.startsWith("error")) { answer }
        return answer
    }

    /** The newest SMS code sent to [phone]. */
    fun smsCode(phone: String) = ask("sms $phone")

    /** The operator approves an application under review (operator HTTP API). */
    fun approve(applicationId: String) {
        val req = HttpRequest.newBuilder(URI("$url/v1/operator/reviews/$applicationId"))
            .header("Authorization", "Bearer $operatorToken")
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"approve\":true}"))
            .build()
        val resp = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "review: ${resp.statusCode()} ${resp.body()}" }
    }

    override fun close() {
        cmd.close() // the helper stops when its stdin closes
        process.waitFor()
    }
}

var passed = 0
var failed = 0

fun step(name: String, block: suspend () -> Unit) {
    val start = System.nanoTime()
    try {
        runBlocking { block() }
        passed++
        println("ok   $name (${(System.nanoTime() - start) / 1_000_000} ms)")
    } catch (e: Throwable) {
        failed++
        println("FAIL $name: $e")
    }
}

fun expect(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

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
            walletDir = walletDir.toString(),
            pinKdf = PinKdf(memoryKib = 256u, iterations = 1u, parallelism = 1u),
        )
        val bidkey = Bidkey(config, keystore)
        var application: Application? = null
        var enrolled: EnrolledPair? = null

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
        step("the right PIN still signs; log out keeps the certificates") {
            bidkey.signMessage(enrolled!!.signingSerial, pin, "bid".toByteArray())
            bidkey.logOut()
            expect(bidkey.account() == null) { "still logged in" }
            expect(bidkey.localCertificates().size == 2) { "certificates gone" }
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
