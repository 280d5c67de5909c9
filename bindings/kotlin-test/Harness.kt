// Shared by the Kotlin tests on the JVM (BindingsTest.kt, android/shared's ShellTest.kt): an
// in-memory AES-GCM DeviceKeystore, the helper process bidkey-test-server, and a tiny runner
// (step/expect) whose counts the tests print as "N passed, M failed".

import kotlinx.coroutines.runBlocking
import cn.bidkey.core.*
import java.awt.image.BufferedImage
import java.io.BufferedReader
import java.io.ByteArrayOutputStream
import java.io.InputStreamReader
import java.io.PrintWriter
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.SecureRandom
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import javax.imageio.ImageIO

/** AES-256-GCM keys in memory, one per alias: what an Android shell does with Android Keystore. */
class MemoryKeystore : DeviceKeystore {
    private val keys = ConcurrentHashMap<String, SecretKey>()
    val seals = AtomicInteger()
    val opens = AtomicInteger()

    /** What the "person" answers to the fingerprint/face prompt of the user-presence key. */
    @Volatile var personAgrees = true
    val prompts = AtomicInteger()

    /**
     * The user-presence key: a separate key (as an auth-bound Keystore key is), used only after
     * the prompt is answered; the prompt suspends like BiometricPrompt's callback would.
     */
    override suspend fun sealWithUser(alias: String, plaintext: ByteArray): ByteArray {
        prompt()
        return seal("user-$alias", plaintext)
    }

    override suspend fun openWithUser(alias: String, sealed: ByteArray): ByteArray {
        prompt()
        return open("user-$alias", sealed)
    }

    private suspend fun prompt() {
        prompts.incrementAndGet()
        kotlinx.coroutines.delay(1) // answered later, on another thread, as a real prompt is
        if (!personAgrees) throw BidkeyException.Keystore("the person cancelled the fingerprint prompt")
    }

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
    /** The operator listener (ADR 0020): the operator API is not on [url]. */
    val operatorUrl: String
    val operatorToken: String

    init {
        val hello = out.readLine() ?: error("bidkey-test-server printed nothing")
        url = field(hello, "url")
        operatorUrl = field(hello, "operator_url")
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

    /** The operator imports one bank statement line: [fen] from an account ending in [last6]. */
    fun bankCredit(txn: String, last6: String, fen: Long, remark: String) = ask("bank $txn $last6 $fen $remark")

    /** The operator approves an application under review (operator HTTP API). */
    fun approve(applicationId: String) {
        operator("POST", "/v1/operator/reviews/$applicationId", "{\"approve\":true}")
    }

    /** A call to the operator HTTP API with the operator token; answers the JSON body. */
    fun operator(method: String, path: String, json: String): String {
        val req = HttpRequest.newBuilder(URI("$operatorUrl$path"))
            .header("Authorization", "Bearer $operatorToken")
            .header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofString(json))
            .build()
        val resp = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString())
        check(resp.statusCode() in 200..299) { "$method $path: ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    /** The operator registers a platform at (lat, lon) whose directory lists one enterprise; its id. */
    fun platform(name: String, origin: String, lat: Double, lon: Double, uscc: String, enterprise: String): String {
        val created = operator(
            "POST", "/v1/operator/platforms",
            "{\"name\":\"$name\",\"origin\":\"$origin\",\"region\":\"重庆\",\"latitude\":$lat,\"longitude\":$lon}",
        )
        val id = field(created, "id")
        operator("PUT", "/v1/operator/platforms/$id/directory", "{\"entries\":[{\"uscc\":\"$uscc\",\"name\":\"$enterprise\"}]}")
        return id
    }

    /** Move the server clock forward [secs] seconds (expiry, resend limits). */
    fun advance(secs: Long) = ask("advance $secs")

    /** The operator registers a platform at [origin] with its certificate; later scan calls act as it. */
    fun scanPlatform(origin: String, name: String): String = ask("platform $origin $name")

    /** The platform (through the platform SDK) asks for a login; [uscc] null: any certificate. */
    fun loginRequest(uscc: String? = null): PlatformRequest {
        val (id, code, uri) = ask(if (uscc == null) "login" else "login $uscc").split(" ", limit = 3)
        return PlatformRequest(id, code, uri)
    }

    /** The platform asks to open a session (ten minutes, auto-confirm allowed). */
    fun sessionRequest(): PlatformRequest {
        val (id, code, uri) = ask("session").split(" ", limit = 3)
        return PlatformRequest(id, code, uri)
    }

    /** The platform sends a login request through open session [sessionId]; the request's id. */
    fun inSession(sessionId: String) = ask("insession $sessionId")

    /** The QR code's text of request [id] now (it rotates every second). */
    fun qr(id: String) = ask("qr $id")

    /** The platform waits for the phone's answer and verifies it: `verified SERIAL USCC`, `rejected …`, `refused CODE`. */
    fun scanResult(id: String) = ask("result $id")

    override fun close() {
        cmd.close() // the helper stops when its stdin closes
        process.waitFor()
    }
}

/** A request made by the platform SDK: its id, the four digits its page shows, the QR text. */
data class PlatformRequest(val id: String, val code: String, val uri: String)

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

/** A real 64×64 PNG (the server checks the image, not only the magic bytes). */
fun sealPng(): ByteArray {
    val img = BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB)
    for (x in 0 until 64) for (y in 0 until 64) if ((x - 32) * (x - 32) + (y - 32) * (y - 32) < 900) img.setRGB(x, y, 0xFFD00000.toInt())
    return ByteArrayOutputStream().also { ImageIO.write(img, "png", it) }.toByteArray()
}
