package bidkey.gateway;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checking a webhook the gateway POSTed: headers {@code Bidkey-Delivery-Id},
 * {@code Bidkey-Timestamp}, {@code Bidkey-Signature} ({@code v1=} hex HMAC-SHA256 under the
 * app's webhook secret of {@code timestamp "." deliveryId "." body}). Keep the delivery ids
 * you processed: a retry after a lost answer carries the same id.
 */
public final class Webhooks {
    private Webhooks() {}

    /** The signature the gateway sends for these values. */
    public static String signature(String secret, long timestamp, String deliveryId, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((timestamp + "." + deliveryId + ".").getBytes(StandardCharsets.UTF_8));
            byte[] out = mac.doFinal(body);
            StringBuilder b = new StringBuilder("v1=");
            for (byte x : out) {
                b.append(String.format("%02x", x));
            }
            return b.toString();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    /**
     * Whether a delivery is genuine: the signature matches (compared in constant time) and the
     * timestamp is within {@code toleranceSecs} of now.
     */
    public static boolean verify(String secret, String timestampHeader, String deliveryId, byte[] body,
                                 String signatureHeader, long toleranceSecs) {
        long ts;
        try {
            ts = Long.parseLong(timestampHeader);
        } catch (NumberFormatException e) {
            return false;
        }
        long now = System.currentTimeMillis() / 1000;
        if (Math.abs(now - ts) > toleranceSecs || signatureHeader == null || deliveryId == null) {
            return false;
        }
        byte[] expected = signature(secret, ts, deliveryId, body).getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(expected, signatureHeader.getBytes(StandardCharsets.US_ASCII));
    }
}
