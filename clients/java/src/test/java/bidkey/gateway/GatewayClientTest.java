package bidkey.gateway;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The Java client against a real gateway, a real Bidkey server and a phone driven through the
 * core by {@code gateway/tests/java_client.rs}: a plain {@code main} that fails loudly (exit
 * status 1 and the reason). Each time the bidder must scan it prints {@code SCAN <qr text>};
 * the Rust side scans and confirms on the phone. Ends with {@code PASS}.
 *
 * <p>Arguments: gateway URL, API key, USCC, PDF path, seal PNG path, seal id, opening time
 * (unix seconds), a work directory.
 */
public final class GatewayClientTest {
    private GatewayClientTest() {}

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("FAILED: " + what);
        }
    }

    private static GatewayException refused(ThrowingRunnable r) throws Exception {
        try {
            r.run();
        } catch (GatewayException e) {
            return e;
        }
        throw new AssertionError("FAILED: expected a GatewayException");
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static Model.Scan scanned(BidkeyGateway gw, Model.Scan s) throws Exception {
        check(s.status() == Model.Status.PENDING, "a new scan is pending");
        Model.QrText qr = gw.qrText(s.id());
        check(qr.uri().startsWith("bidkey://") && qr.refreshMs() == 1000, "QR text " + qr);
        System.out.println("SCAN " + qr.uri());
        System.out.flush();
        Model.Scan done = gw.waitForResult(s.id(), Duration.ofMinutes(3));
        check(done.status() == Model.Status.APPROVED, "approved: " + done);
        return done;
    }

    public static void main(String[] args) throws Exception {
        try {
            run(args);
            System.out.println("PASS");
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.out.println("FAILED: " + t);
            System.exit(1);
        }
    }

    private static void run(String[] a) throws Exception {
        URI url = URI.create(a[0]);
        String uscc = a[2];
        Path work = Path.of(a[7]);
        BidkeyGateway gw = new BidkeyGateway(url, a[1]);
        check(!gw.health().isEmpty(), "health names the platform");

        // A wrong API key: typed refusal, in both languages.
        GatewayException e = refused(() -> new BidkeyGateway(url, "bgw_0000000000000000.00").login(uscc, null));
        check(e.status() == 401 && e.code().equals("unauthorized") && !e.messageZh().isEmpty(), "unauthorized: " + e);
        e = refused(() -> gw.scan("0123456789abcdef0123456789abcdef", 0));
        check(e.code().equals("not_found"), "not_found: " + e);

        // QR login.
        Model.Scan login = gw.login(uscc, null);
        check(gw.qrPng(login.id())[1] == 'P', "QR PNG");
        check(gw.qrSvg(login.id()).contains("<svg"), "QR SVG");
        // The code from the event stream this time (the others poll qrText).
        boolean[] shown = {false};
        Model.Scan in = gw.streamQr(login.id(), qr -> {
            if (!shown[0]) {
                shown[0] = true;
                System.out.println("SCAN " + qr.uri());
                System.out.flush();
            }
        });
        check(in.status() == Model.Status.APPROVED, "approved through the stream: " + in);
        Model.Signer signer = in.result().signer();
        check(uscc.equals(signer.uscc()) && signer.grantId() != null, "signer " + signer);
        byte[] encCert = in.result().encryptionCertificate();
        check(encCert != null && encCert.length > 100, "encryption certificate");

        // A sealed PDF.
        byte[] pdf = Files.readAllBytes(Path.of(a[3]));
        byte[] png = Files.readAllBytes(Path.of(a[4]));
        Model.Scan sealing = gw.sealPdf("投标文件.pdf", pdf, png,
                new Model.SealPlacement(a[5], 1, 100, 150, 40, 40), uscc, null);
        e = refused(() -> gw.sealedPdf(sealing.id()));
        check(e.code().equals("not_ready"), "not sealed yet: " + e);
        Model.Scan sealed = scanned(gw, sealing);
        Model.SealedPdf info = sealed.result().sealedPdf();
        check(info != null && info.valid(), "sealed PDF valid: " + info);
        byte[] sealedPdf = gw.sealedPdf(sealing.id());
        check(sealedPdf.length == info.size(), "sealed PDF size");
        check(Arrays.equals(Arrays.copyOf(sealedPdf, pdf.length), pdf), "an incremental update");
        Model.PdfVerdict verdict = gw.verifyPdf(sealedPdf);
        check(verdict.valid(), "the sealed PDF verifies: " + verdict);
        byte[] p7s = sealed.result().documents().get(0).signedData();
        e = refused(() -> gw.verifyCms(p7s, new byte[32], uscc));
        check(e.status() == 422 && e.code().equals("bad_reply"), "CMS over another digest: " + e);

        // A bid file encrypted to the bidder and opened at the bid opening.
        byte[] plain = new byte[200_000];
        new Random(7).nextBytes(plain);
        Path plainPath = work.resolve("bid.zip");
        Path bidPath = work.resolve("bid.zip.bid");
        Path openedPath = work.resolve("opened.zip");
        Files.write(plainPath, plain);
        BidkeyGateway.EncryptedBidFile enc = gw.encryptBidFile(plainPath, bidPath, encCert, "ZB-2026-0042", "投标.zip");
        byte[] bid = Files.readAllBytes(bidPath);
        Model.BidFileHeader h = gw.bidFileHeader(Arrays.copyOf(bid, 4096));
        check(h.recipientSerial().equals(enc.recipientSerial()) && h.fileName().equals("投标.zip"), "header " + h);
        Model.Scan opening = gw.decrypt("ZB-2026-0042", "某工程施工招标", Instant.ofEpochSecond(Long.parseLong(a[6])),
                List.of(new BidkeyGateway.WrappedFile(h.fileName(), h.recipientSerial(), h.wrappedKeyBase64(), h.headerHashBase64())), null);
        Model.Scan opened = scanned(gw, opening);
        String key = opened.result().fileKeys().get(0).key();
        gw.decryptBidFile(bidPath, openedPath, key);
        check(Arrays.equals(Files.readAllBytes(openedPath), plain), "the opened file is the bid");
        Path wrong = work.resolve("wrong.zip");
        e = refused(() -> gw.decryptBidFile(bidPath, wrong, "00".repeat(16)));
        check(e.code().equals("wrong_key") && !Files.exists(wrong), "wrong key: " + e);

        // Not pre-authorised: refused in the hall's words, nothing written.
        Path notPre = work.resolve("not-preauthorised.zip");
        e = refused(() -> gw.openPreauthorised(bidPath, notPre));
        check(e.status() == 404 && e.code().equals("not_preauthorised") && e.messageZh().contains("没有预授权")
                && !Files.exists(notPre), "not pre-authorised: " + e);

        // The opening hall (开标大厅): before and after the opening, in words.
        List<Model.HallRow> hall = gw.openingHall(List.of(
                new BidkeyGateway.HallBid("bid-1", bid, null, null, null, 0)));
        Model.HallRow row = hall.get(0);
        check(row.bidId().equals("bid-1") && row.recipients().equals(List.of(enc.recipientSerial()))
                && row.threshold() == 1 && row.tenderId().equals("ZB-2026-0042"), "hall row " + row);
        check(row.selfCheck().state().equals("none") && row.opening().state().equals("waiting")
                && row.preauth().state().equals("none") && !row.warnings().isEmpty(), "before: " + row);
        Instant at = Instant.now();
        hall = gw.openingHall(List.of(new BidkeyGateway.HallBid("bid-1", bid,
                new BidkeyGateway.SelfCheckReport(true, at, "李四的手机", null, null),
                new BidkeyGateway.Opened("online_scan", signer.commonName(), at), null, 0)));
        row = hall.get(0);
        check(row.selfCheck().state().equals("ok") && row.selfCheck().zh().startsWith("可解密 ✓"), "self-check " + row);
        check(row.opening().state().equals("opened") && row.opening().zh().contains("扫码解密")
                && "online_scan".equals(row.openedHow()) && row.warnings().isEmpty(), "opened " + row);
        e = refused(() -> gw.openingHall(List.of(
                new BidkeyGateway.HallBid("bid-2", "not a bid".getBytes(StandardCharsets.UTF_8), null, null, null, 0))));
        check(e.status() == 400 && e.code().equals("bad_request") && e.getMessage().contains("bids[0]"), "garbage head: " + e);

        // The JSON reader refuses what is not JSON, and round-trips what is.
        Object v = Json.parse("{\"a\":[1,2.5,\"\\u00e9\\n\",true,null],\"b\":{}}");
        check(Json.write(v).equals("{\"a\":[1,2.5,\"é\\n\",true,null],\"b\":{}}"), "JSON round trip " + Json.write(v));
        for (String bad : new String[] {"{", "[1,]", "\"x", "01x", "{\"a\" 1}", "nul"}) {
            try {
                Json.parse(bad);
                check(false, "parsed " + bad);
            } catch (IllegalArgumentException ok) {
                // refused, as it should be
            }
        }
        // Webhook signatures as the gateway makes them.
        String sig = Webhooks.signature("secret", 100, "d1", "{}".getBytes(StandardCharsets.UTF_8));
        check(sig.startsWith("v1=") && sig.length() == 67, "signature form");
        check(!Webhooks.verify("secret", "100", "d1", "{}".getBytes(StandardCharsets.UTF_8), sig, 300),
                "an old delivery is refused");
        long now = System.currentTimeMillis() / 1000;
        String fresh = Webhooks.signature("secret", now, "d1", "{}".getBytes(StandardCharsets.UTF_8));
        check(Webhooks.verify("secret", Long.toString(now), "d1", "{}".getBytes(StandardCharsets.UTF_8), fresh, 300),
                "a fresh delivery verifies");
        check(!Webhooks.verify("other", Long.toString(now), "d1", "{}".getBytes(StandardCharsets.UTF_8), fresh, 300),
                "another secret is refused");
        check(Map.of().isEmpty(), "done");
    }
}
