package bidkey.gateway;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Client of a {@code bidkey-gateway} (docs/platform-integration.md): every call of
 * {@code gateway/openapi.yaml} with typed results ({@link Model}) and typed refusals
 * ({@link GatewayException}). JDK 17, {@code java.net.http}, nothing else.
 *
 * <pre>{@code
 * BidkeyGateway gw = new BidkeyGateway(URI.create("http://127.0.0.1:8070"), apiKey);
 * Model.Scan scan = gw.login("91500000MA5U8XGQ8Q", null);
 * String qr = gw.qrText(scan.id()).uri();          // show it; redraw every second
 * Model.Scan done = gw.waitForResult(scan.id(), Duration.ofMinutes(3));
 * if (done.status() == Model.Status.APPROVED) { ... done.result().signer().uscc() ... }
 * }</pre>
 *
 * Thread-safe; share one instance.
 */
public final class BidkeyGateway {
    private final URI base;
    private final String apiKey;
    private final HttpClient http;

    /** A document to sign: your own SM3 digest of the file (32 bytes). */
    public record DocumentToSign(String name, byte[] sm3Digest, int pageCount, Model.SealPlacement seal) {}

    /**
     * A bid file's wrapped key and header hash, from {@link #bidFileHeader}, for a decrypt scan:
     * the phone unwraps the key only for this tender, this platform and this header.
     */
    public record WrappedFile(String fileName, String recipientSerial, String wrappedKeyBase64,
                              String headerHashBase64) {}

    /** What encryption produced besides the file. */
    public record EncryptedBidFile(String recipientSerial, String wrappedKeyBase64) {}

    /** The self-check (解密自检) the bidder's phone reported; reasons only when it failed. */
    public record SelfCheckReport(boolean ok, Instant checkedAt, String device, String reasonZh, String reasonEn) {}

    /** Your record of an opening: how is {@code online_scan}, {@code preauthorised} or {@code k_of_n}. */
    public record Opened(String how, String by, Instant openedAt) {}

    /**
     * A bid as you keep it, for the opening hall: its id, the stored file's first bytes (at
     * least its header; the first 64 KiB always hold it), and what you recorded (each may be
     * null; {@code failure} is the words of the last failed opening, as the gateway gave them).
     */
    public record HallBid(String bidId, byte[] head, SelfCheckReport selfCheck, Opened opened,
                          Model.Words failure, int sharesReceived) {}

    public BidkeyGateway(URI base, String apiKey) {
        this(base, apiKey, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
    }

    public BidkeyGateway(URI base, String apiKey, HttpClient http) {
        String b = base.toString();
        this.base = URI.create(b.endsWith("/") ? b.substring(0, b.length() - 1) : b);
        this.apiKey = apiKey;
        this.http = http;
    }

    // ---- plumbing ----

    private HttpRequest.Builder req(String path, Duration timeout) {
        return HttpRequest.newBuilder(URI.create(base + path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + apiKey);
    }

    private static GatewayException refusal(int status, byte[] body) {
        try {
            Map<String, Object> m = Json.obj(Json.parse(new String(body, StandardCharsets.UTF_8)), "error");
            return new GatewayException(status, Json.str(m, "code"), Json.str(m, "message_zh"), Json.str(m, "message_en"));
        } catch (IllegalArgumentException e) {
            return new GatewayException(status, "unexpected_answer", "网关返回了无法识别的内容", "HTTP " + status);
        }
    }

    private Object call(HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<byte[]> r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() / 100 != 2) {
            throw refusal(r.statusCode(), r.body());
        }
        return Json.parse(new String(r.body(), StandardCharsets.UTF_8));
    }

    private byte[] bytes(HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<byte[]> r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() / 100 != 2) {
            throw refusal(r.statusCode(), r.body());
        }
        return r.body();
    }

    private Object postJson(String path, Map<String, Object> body) throws IOException, InterruptedException {
        return call(req(path, Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8))
                .build());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    // ---- health ----

    /** {@code GET /healthz}: the platform id the gateway serves. */
    public String health() throws IOException, InterruptedException {
        Map<String, Object> m = Json.obj(call(HttpRequest.newBuilder(URI.create(base + "/healthz")).GET().build()), "health");
        return Json.str(m, "platform_id");
    }

    // ---- scans ----

    /** {@code POST /v1/scans} with a protocol action (a map with {@code kind}). */
    public Model.Scan createScan(Map<String, Object> action, Integer ttlSecs, String webhookUrl)
            throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("action", action);
        if (ttlSecs != null) {
            body.put("ttl_secs", ttlSecs.longValue());
        }
        if (webhookUrl != null) {
            body.put("webhook_url", webhookUrl);
        }
        return Model.Scan.from(postJson("/v1/scans", body));
    }

    /** 扫码登录: the bidder signs a login challenge; the result names signer and enterprise. */
    public Model.Scan login(String uscc, String webhookUrl) throws IOException, InterruptedException {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kind", "login");
        a.put("uscc", uscc);
        return createScan(a, null, webhookUrl);
    }

    /** 绑定: link the certificate to the bidder's account on the platform. */
    public Model.Scan bind(String platformUser, String uscc, String webhookUrl) throws IOException, InterruptedException {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kind", "bind");
        a.put("platform_user", platformUser);
        a.put("uscc", uscc);
        return createScan(a, null, webhookUrl);
    }

    private static Map<String, Object> seal(Model.SealPlacement s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seal_id", s.sealId());
        m.put("page", s.page());
        m.put("x_mm", s.xMm());
        m.put("y_mm", s.yMm());
        m.put("width_mm", s.widthMm());
        m.put("height_mm", s.heightMm());
        return m;
    }

    /** 签名 / 签章: the bidder signs each document's digest (and places a seal). */
    public Model.Scan sign(List<DocumentToSign> documents, String uscc, String webhookUrl)
            throws IOException, InterruptedException {
        List<Object> docs = new ArrayList<>();
        for (DocumentToSign d : documents) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", d.name());
            m.put("digest_alg", "sm3");
            m.put("digest", b64(d.sm3Digest()));
            m.put("page_count", (long) d.pageCount());
            if (d.seal() != null) {
                m.put("seal", seal(d.seal()));
            }
            docs.add(m);
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kind", "sign");
        a.put("uscc", uscc);
        a.put("documents", docs);
        return createScan(a, null, webhookUrl);
    }

    /** 开标解密: the bidder releases the keys of their bid files, not before {@code openingAt}. */
    public Model.Scan decrypt(String tenderId, String tenderName, Instant openingAt, List<WrappedFile> files,
                              String webhookUrl) throws IOException, InterruptedException {
        List<Object> fs = new ArrayList<>();
        for (WrappedFile f : files) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file_name", f.fileName());
            m.put("recipient_serial", f.recipientSerial());
            m.put("wrapped_key", f.wrappedKeyBase64());
            m.put("header_hash", f.headerHashBase64());
            fs.add(m);
        }
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kind", "decrypt");
        a.put("tender_id", tenderId);
        a.put("tender_name", tenderName);
        a.put("opening_at", openingAt.getEpochSecond());
        a.put("files", fs);
        return createScan(a, null, webhookUrl);
    }

    /** 会话: after this scan, requests go to the phone without a QR code. */
    public Model.Scan session(long ttlSecs, boolean autoConfirmAllowed, String uscc, String webhookUrl)
            throws IOException, InterruptedException {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("kind", "session");
        a.put("ttl_secs", ttlSecs);
        a.put("auto_confirm_allowed", autoConfirmAllowed);
        a.put("uscc", uscc);
        return createScan(a, null, webhookUrl);
    }

    /** {@code POST /v1/sessions/{id}/scans}: a request inside an open session. */
    public Model.Scan inSession(String sessionId, Map<String, Object> action, String webhookUrl)
            throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("action", action);
        if (webhookUrl != null) {
            body.put("webhook_url", webhookUrl);
        }
        return Model.Scan.from(postJson("/v1/sessions/" + enc(sessionId) + "/scans", body));
    }

    /** Seal a PDF: the phone signs it; get it back with {@link #sealedPdf}. */
    public Model.Scan sealPdf(String name, byte[] pdf, byte[] sealPng, Model.SealPlacement where, String uscc,
                              String webhookUrl) throws IOException, InterruptedException {
        Map<String, Object> pos = seal(where);
        pos.remove("seal_id");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("pdf", b64(pdf));
        body.put("seal_png", b64(sealPng));
        body.put("seal_id", where.sealId());
        body.put("position", pos);
        body.put("uscc", uscc);
        if (webhookUrl != null) {
            body.put("webhook_url", webhookUrl);
        }
        return Model.Scan.from(postJson("/v1/scans/seal-pdf", body));
    }

    /**
     * As {@link #sealPdf}, but the gateway fetches the PDF from {@code pdfUrl} (https to a
     * public address, or a host the gateway's configuration allows).
     */
    public Model.Scan sealPdfFromUrl(String name, String pdfUrl, byte[] sealPng, Model.SealPlacement where,
                                     String uscc, String webhookUrl) throws IOException, InterruptedException {
        Map<String, Object> pos = seal(where);
        pos.remove("seal_id");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("pdf_url", pdfUrl);
        body.put("seal_png", b64(sealPng));
        body.put("seal_id", where.sealId());
        body.put("position", pos);
        body.put("uscc", uscc);
        if (webhookUrl != null) {
            body.put("webhook_url", webhookUrl);
        }
        return Model.Scan.from(postJson("/v1/scans/seal-pdf", body));
    }

    /**
     * {@code GET /v1/scans/{id}/qr/stream}: calls {@code onQr} with the code's text each second
     * (Server-Sent Events) until the scan ends, and returns the finished scan.
     */
    public Model.Scan streamQr(String id, java.util.function.Consumer<Model.QrText> onQr)
            throws IOException, InterruptedException {
        HttpResponse<java.util.stream.Stream<String>> r = http.send(
                req("/v1/scans/" + enc(id) + "/qr/stream", Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() / 100 != 2) {
            StringBuilder sb = new StringBuilder();
            r.body().forEach(sb::append);
            throw refusal(r.statusCode(), sb.toString().getBytes(StandardCharsets.UTF_8));
        }
        String event = "message";
        try (java.util.stream.Stream<String> lines = r.body()) {
            java.util.Iterator<String> it = lines.iterator();
            while (it.hasNext()) {
                String line = it.next();
                if (line.startsWith("event:")) {
                    event = line.substring(6).trim();
                } else if (line.startsWith("data:")) {
                    Object data = Json.parse(line.substring(5).trim());
                    if (event.equals("qr")) {
                        onQr.accept(Model.QrText.from(data));
                    } else if (event.equals("finished")) {
                        return Model.Scan.from(data);
                    } else if (event.equals("error")) {
                        throw refusal(500, line.substring(5).trim().getBytes(StandardCharsets.UTF_8));
                    }
                } else if (line.isEmpty()) {
                    event = "message";
                }
            }
        }
        throw new IOException("the QR stream ended without the scan's end");
    }

    /** {@code GET /v1/scans/{id}}, long-polling up to {@code waitSecs} (at most 60). */
    public Model.Scan scan(String id, int waitSecs) throws IOException, InterruptedException {
        return Model.Scan.from(call(req("/v1/scans/" + enc(id) + "?wait=" + waitSecs,
                Duration.ofSeconds(waitSecs + 30L)).GET().build()));
    }

    /** Long-poll until the scan is answered, refused, failed or expired, or {@code timeout}. */
    public Model.Scan waitForResult(String id, Duration timeout) throws IOException, InterruptedException {
        Instant end = Instant.now().plus(timeout);
        Model.Scan s = scan(id, 0);
        while (s.waiting() && Instant.now().isBefore(end)) {
            s = scan(id, 25);
        }
        return s;
    }

    /** The QR code's text now. */
    public Model.QrText qrText(String id) throws IOException, InterruptedException {
        return Model.QrText.from(call(req("/v1/scans/" + enc(id) + "/qr", Duration.ofSeconds(30)).GET().build()));
    }

    /** The QR code now, PNG. */
    public byte[] qrPng(String id) throws IOException, InterruptedException {
        return bytes(req("/v1/scans/" + enc(id) + "/qr.png", Duration.ofSeconds(30)).GET().build());
    }

    /** The QR code now, SVG. */
    public String qrSvg(String id) throws IOException, InterruptedException {
        return new String(bytes(req("/v1/scans/" + enc(id) + "/qr.svg", Duration.ofSeconds(30)).GET().build()),
                StandardCharsets.UTF_8);
    }

    /** The sealed PDF of an approved seal-PDF scan. */
    public byte[] sealedPdf(String id) throws IOException, InterruptedException {
        return bytes(req("/v1/scans/" + enc(id) + "/pdf", Duration.ofSeconds(120)).GET().build());
    }

    // ---- bid files (streamed from and to files) ----

    private HttpResponse<Path> toFile(HttpRequest r, Path out) throws IOException, InterruptedException {
        HttpResponse<Path> resp = http.send(r, HttpResponse.BodyHandlers.ofFile(out));
        if (resp.statusCode() / 100 != 2) {
            byte[] body = Files.readAllBytes(out);
            Files.deleteIfExists(out);
            throw refusal(resp.statusCode(), body);
        }
        return resp;
    }

    /** Encrypt {@code in} to the bidder's encryption certificate (DER) into {@code out}. */
    public EncryptedBidFile encryptBidFile(Path in, Path out, byte[] encryptionCert, String tenderId, String fileName)
            throws IOException, InterruptedException {
        HttpResponse<Path> r = toFile(req("/v1/bid-files/encrypt?tender_id=" + enc(tenderId) + "&file_name=" + enc(fileName),
                Duration.ofMinutes(30))
                .header("Content-Type", "application/octet-stream")
                .header("bidkey-recipient-cert", b64(encryptionCert))
                .POST(HttpRequest.BodyPublishers.ofFile(in))
                .build(), out);
        return new EncryptedBidFile(r.headers().firstValue("bidkey-recipient-serial").orElse(null),
                r.headers().firstValue("bidkey-wrapped-key").orElse(null));
    }

    /** Open a bid file with the key released at the opening; nothing is written unless it all authenticates. */
    public void decryptBidFile(Path in, Path out, String fileKeyHex) throws IOException, InterruptedException {
        toFile(req("/v1/bid-files/decrypt", Duration.ofMinutes(30))
                .header("Content-Type", "application/octet-stream")
                .header("bidkey-file-key", fileKeyHex)
                .POST(HttpRequest.BodyPublishers.ofFile(in))
                .build(), out);
    }

    /**
     * 预授权解密: at the opening, open a bid file the bidder pre-authorised, with no phone
     * online; returns how it opened ({@code preauthorised} or {@code k_of_n}). A bid that does
     * not open now is a {@link GatewayException} ({@code too_early}, {@code not_preauthorised},
     * {@code preauth_withdrawn}, {@code not_enough_preauths}) whose messages are the opening
     * hall's words for the bidder: keep them for {@link #openingHall}.
     */
    public String openPreauthorised(Path in, Path out) throws IOException, InterruptedException {
        HttpResponse<Path> r = toFile(req("/v1/bid-files/open-preauthorised", Duration.ofMinutes(30))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofFile(in))
                .build(), out);
        return r.headers().firstValue("bidkey-opened-how").orElse("");
    }

    /** A bid file's header (its first few kilobytes are enough). */
    public Model.BidFileHeader bidFileHeader(byte[] start) throws IOException, InterruptedException {
        return Model.BidFileHeader.from(call(req("/v1/bid-files/header", Duration.ofSeconds(60))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(start))
                .build()));
    }

    // ---- the opening hall ----

    /** {@code POST /v1/opening-hall}: one row per bid, in the order given, worded for the bidder. */
    public List<Model.HallRow> openingHall(List<HallBid> bids) throws IOException, InterruptedException {
        List<Object> list = new ArrayList<>();
        for (HallBid b : bids) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bid_id", b.bidId());
            m.put("head", b64(b.head().length > 65536 ? Arrays.copyOf(b.head(), 65536) : b.head()));
            if (b.selfCheck() != null) {
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("ok", b.selfCheck().ok());
                c.put("checked_at", b.selfCheck().checkedAt().getEpochSecond());
                c.put("device", b.selfCheck().device());
                c.put("reason_zh", b.selfCheck().reasonZh());
                c.put("reason_en", b.selfCheck().reasonEn());
                m.put("self_check", c);
            }
            if (b.opened() != null) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("how", b.opened().how());
                o.put("by", b.opened().by());
                o.put("opened_at", b.opened().openedAt().getEpochSecond());
                m.put("opened", o);
            }
            if (b.failure() != null) {
                Map<String, Object> f = new LinkedHashMap<>();
                f.put("zh", b.failure().zh());
                f.put("en", b.failure().en());
                m.put("failure", f);
            }
            m.put("shares_received", (long) b.sharesReceived());
            list.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("bids", list);
        Map<String, Object> answer = Json.obj(postJson("/v1/opening-hall", body), "hall");
        List<Model.HallRow> out = new ArrayList<>();
        for (Object r : Json.list(answer, "bids")) {
            out.add(Model.HallRow.from(r));
        }
        return out;
    }

    // ---- verification ----

    /** A stored detached CMS verified again now, over your own SM3 digest of the file. */
    public Model.VerifiedCms verifyCms(byte[] signedData, byte[] sm3Digest, String uscc)
            throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("signed_data", b64(signedData));
        body.put("digest_alg", "sm3");
        body.put("digest", b64(sm3Digest));
        body.put("uscc", uscc);
        return Model.VerifiedCms.from(postJson("/v1/verify/cms", body));
    }

    private static List<Object> b64All(List<byte[]> crls) {
        List<Object> out = new ArrayList<>();
        for (byte[] c : crls) {
            out.add(b64(c));
        }
        return out;
    }

    /**
     * A stored detached CMS verified offline: revocation judged only by the CRLs you give
     * (DER: the issuing CA's and the root's, current now), no call to the Bidkey server, no
     * grant check. A signer they list as revoked, or a missing or stale CRL, is refused.
     */
    public Model.VerifiedCms verifyCmsOffline(byte[] signedData, byte[] sm3Digest, String uscc, List<byte[]> crls)
            throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("signed_data", b64(signedData));
        body.put("digest_alg", "sm3");
        body.put("digest", b64(sm3Digest));
        body.put("uscc", uscc);
        body.put("crls", b64All(crls));
        return Model.VerifiedCms.from(postJson("/v1/verify/cms/offline", body));
    }

    /** Every signature of a PDF verified offline against the CRLs you give (DER). */
    public Model.PdfVerdict verifyPdfOffline(byte[] pdf, List<byte[]> crls) throws IOException, InterruptedException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("pdf", b64(pdf));
        body.put("crls", b64All(crls));
        return Model.PdfVerdict.from(postJson("/v1/verify/pdf/offline", body));
    }

    /** Every signature of a PDF verified. */
    public Model.PdfVerdict verifyPdf(byte[] pdf) throws IOException, InterruptedException {
        return Model.PdfVerdict.from(call(req("/v1/verify/pdf", Duration.ofMinutes(5))
                .header("Content-Type", "application/pdf")
                .POST(HttpRequest.BodyPublishers.ofByteArray(pdf))
                .build()));
    }
}
