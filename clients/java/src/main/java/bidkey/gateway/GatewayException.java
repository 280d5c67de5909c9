package bidkey.gateway;

/**
 * A refusal from the gateway: its HTTP status, its code (branch on it: {@code rejected},
 * {@code scan_expired}, {@code wrong_key}, {@code no_grant}, ... as listed in
 * {@code gateway/openapi.yaml}) and its message in Chinese and English. Network failures are
 * {@code java.io.IOException}s, not this.
 */
public final class GatewayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;
    private final String messageZh;

    public GatewayException(int status, String code, String messageZh, String messageEn) {
        super(code + ": " + messageEn);
        this.status = status;
        this.code = code;
        this.messageZh = messageZh;
    }

    /** The HTTP status. */
    public int status() {
        return status;
    }

    /** The wire code, e.g. {@code unauthorized}. */
    public String code() {
        return code;
    }

    /** The message for Chinese users. */
    public String messageZh() {
        return messageZh;
    }

    /** Whether trying again later may succeed (the Bidkey server unreachable, a 5xx). */
    public boolean retryable() {
        return status >= 500;
    }
}
