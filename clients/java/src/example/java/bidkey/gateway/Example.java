package bidkey.gateway;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * QR login through the gateway, as a trading platform's back end does it:
 *
 * <pre>
 * javac -d out $(find clients/java/src/main clients/java/src/example -name '*.java')
 * java -cp out bidkey.gateway.Example http://127.0.0.1:8070 bgw_... 91500000MA5U8XGQ8Q
 * </pre>
 *
 * It writes the QR code to {@code qr.png} (a real page redraws it every second from
 * {@code /v1/scans/{id}/qr.svg}) and prints who logged in once the bidder scans.
 */
public final class Example {
    private Example() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Example GATEWAY_URL API_KEY [USCC]");
            System.exit(2);
        }
        BidkeyGateway gw = new BidkeyGateway(URI.create(args[0]), args[1]);
        try {
            Model.Scan scan = gw.login(args.length > 2 ? args[2] : null, null);
            Files.write(Path.of("qr.png"), gw.qrPng(scan.id()));
            System.out.println("scan qr.png with Bidkey; code " + scan.verificationCode());
            System.out.println("QR text: " + gw.qrText(scan.id()).uri());
            Model.Scan done = gw.waitForResult(scan.id(), Duration.ofMinutes(3));
            switch (done.status()) {
                case APPROVED -> {
                    Model.Signer s = done.result().signer();
                    System.out.println("logged in: " + s.commonName() + " of " + s.organization() + " (" + s.uscc() + ")");
                }
                case REJECTED -> System.out.println("the bidder refused: " + done.reason());
                default -> System.out.println("not logged in: " + done.error());
            }
        } catch (GatewayException e) {
            System.err.println(e.code() + ": " + e.messageZh() + " / " + e.getMessage());
            System.exit(1);
        }
    }
}
