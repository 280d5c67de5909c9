package bidkey.gateway;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/** The gateway's answers as typed records (schemas of {@code gateway/openapi.yaml}). */
public final class Model {
    private Model() {}

    private static byte[] b64(String s) {
        return s == null ? null : Base64.getDecoder().decode(s);
    }

    /** Where a scan stands. */
    public enum Status {
        PENDING, SCANNED, APPROVED, REJECTED, FAILED;

        static Status of(String s) {
            return Status.valueOf(s.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /** A typed error inside a failed scan. */
    public record Error(String code, String messageZh, String messageEn) {
        static Error from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "error");
            return new Error(Json.str(m, "code"), Json.str(m, "message_zh"), Json.str(m, "message_en"));
        }
    }

    /** The signer, as the verified certificate says. */
    public record Signer(String serial, String commonName, String organization, String uscc,
                         String grantId, byte[] certificate) {
        static Signer from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "signer");
            return new Signer(Json.str(m, "serial"), Json.str(m, "common_name"),
                    Json.str(m, "organization"), Json.str(m, "uscc"), Json.str(m, "grant_id"),
                    b64(Json.str(m, "certificate")));
        }
    }

    /** A seal's place on a page: millimetres from the left and top edges, and its size. */
    public record SealPlacement(String sealId, long page, long xMm, long yMm, long widthMm, long heightMm) {
        static SealPlacement from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "seal");
            return new SealPlacement(Json.str(m, "seal_id"), Json.num(m, "page"), Json.num(m, "x_mm"),
                    Json.num(m, "y_mm"), Json.num(m, "width_mm"), Json.num(m, "height_mm"));
        }
    }

    /** A verified document signature: the detached CMS (.p7s) with its timestamp. */
    public record Document(String name, byte[] signedData, long signingTime, long timestampTime,
                           SealPlacement seal) {
        static Document from(Object o) {
            Map<String, Object> m = Json.obj(o, "document");
            return new Document(Json.str(m, "name"), b64(Json.str(m, "signed_data")),
                    Json.num(m, "signing_time"), Json.num(m, "timestamp_time"),
                    SealPlacement.from(m.get("seal")));
        }
    }

    /** A bid-file key the phone released at the opening (32 hex digits). */
    public record FileKey(String fileName, String key) {
        static FileKey from(Object o) {
            Map<String, Object> m = Json.obj(o, "file key");
            return new FileKey(Json.str(m, "file_name"), Json.str(m, "key"));
        }
    }

    /** A session the phone accepted. */
    public record Session(String sessionId, long expiresAt, boolean autoConfirm) {
        static Session from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "session");
            return new Session(Json.str(m, "session_id"), Json.num(m, "expires_at"), Json.bool(m, "auto_confirm"));
        }
    }

    /** The sealed PDF, verified after the signature went in. */
    public record SealedPdf(String url, long size, String sm3, boolean valid) {
        static SealedPdf from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "sealed_pdf");
            return new SealedPdf(Json.str(m, "url"), Json.num(m, "size"), Json.str(m, "sm3"), Json.bool(m, "valid"));
        }
    }

    /** Everything a reply proved, already verified by the gateway. */
    public record VerifiedResult(Signer signer, List<Document> documents, List<FileKey> fileKeys,
                                 byte[] encryptionCertificate, Session session, SealedPdf sealedPdf) {
        static VerifiedResult from(Object o) {
            if (o == null) {
                return null;
            }
            Map<String, Object> m = Json.obj(o, "result");
            List<Document> docs = new ArrayList<>();
            for (Object d : Json.list(m, "documents")) {
                docs.add(Document.from(d));
            }
            List<FileKey> keys = new ArrayList<>();
            for (Object k : Json.list(m, "file_keys")) {
                keys.add(FileKey.from(k));
            }
            return new VerifiedResult(Signer.from(m.get("signer")), docs, keys,
                    b64(Json.str(m, "encryption_certificate")), Session.from(m.get("session")),
                    SealedPdf.from(m.get("sealed_pdf")));
        }
    }

    /** A scan and, once answered, its verified result. */
    public record Scan(String id, String kind, Status status, long expiresAt, String verificationCode,
                       VerifiedResult result, String reason, Error error) {
        static Scan from(Object o) {
            Map<String, Object> m = Json.obj(o, "scan");
            return new Scan(Json.str(m, "id"), Json.str(m, "kind"), Status.of(Json.str(m, "status")),
                    Json.num(m, "expires_at"), Json.str(m, "verification_code"),
                    VerifiedResult.from(m.get("result")), Json.str(m, "reason"), Error.from(m.get("error")));
        }

        /** Still waiting for the phone. */
        public boolean waiting() {
            return status == Status.PENDING || status == Status.SCANNED;
        }
    }

    /** The QR code's text now; draw the next after {@code refreshMs}. */
    public record QrText(String uri, long t, String verificationCode, long expiresAt, long refreshMs) {
        static QrText from(Object o) {
            Map<String, Object> m = Json.obj(o, "qr");
            return new QrText(Json.str(m, "uri"), Json.num(m, "t"), Json.str(m, "verification_code"),
                    Json.num(m, "expires_at"), Json.num(m, "refresh_ms"));
        }
    }

    /** A bid file's header. */
    public record BidFileHeader(String recipientSerial, String tenderId, String platformId, String fileName,
                                long createdAt, long chunkSize, String wrappedKeyBase64, String headerHashBase64) {
        static BidFileHeader from(Object o) {
            Map<String, Object> m = Json.obj(o, "header");
            return new BidFileHeader(Json.str(m, "recipient_serial"), Json.str(m, "tender_id"),
                    Json.str(m, "platform_id"), Json.str(m, "file_name"), Json.num(m, "created_at"),
                    Json.num(m, "chunk_size"), Json.str(m, "wrapped_key"), Json.str(m, "header_hash"));
        }
    }

    /** A sentence in Chinese and in English. */
    public record Words(String zh, String en) {
        static Words from(Object o) {
            Map<String, Object> m = Json.obj(o, "words");
            return new Words(Json.str(m, "zh"), Json.str(m, "en"));
        }
    }

    /** One line of the opening hall: a state to test and its words. */
    public record HallLine(String state, String zh, String en) {
        static HallLine from(Object o) {
            Map<String, Object> m = Json.obj(o, "line");
            return new HallLine(Json.str(m, "state"), Json.str(m, "zh"), Json.str(m, "en"));
        }
    }

    /**
     * One bid in the opening hall (开标大厅): recipients, self-check (state none/ok/failed),
     * pre-authorisation (unknown/none/withdrawn/partial/ready/released), opening
     * (waiting/collecting/failed/opened/mismatch), how it opened, and warnings for the bidder.
     */
    public record HallRow(String bidId, String tenderId, String fileName, String bindingHash,
                          List<String> recipients, long threshold, HallLine recipientsLine,
                          HallLine selfCheck, HallLine preauth, HallLine opening, String openedHow,
                          List<Words> warnings) {
        static HallRow from(Object o) {
            Map<String, Object> m = Json.obj(o, "hall row");
            List<String> recipients = new ArrayList<>();
            for (Object r : Json.list(m, "recipients")) {
                recipients.add((String) r);
            }
            List<Words> warnings = new ArrayList<>();
            for (Object w : Json.list(m, "warnings")) {
                warnings.add(Words.from(w));
            }
            return new HallRow(Json.str(m, "bid_id"), Json.str(m, "tender_id"), Json.str(m, "file_name"),
                    Json.str(m, "binding_hash"), recipients, Json.num(m, "threshold"),
                    HallLine.from(m.get("recipients_line")), HallLine.from(m.get("self_check")),
                    HallLine.from(m.get("preauth")), HallLine.from(m.get("opening")),
                    Json.str(m, "opened_how"), warnings);
        }
    }

    /** A stored CMS verified again. */
    public record VerifiedCms(Signer signer, long timestampTime) {
        static VerifiedCms from(Object o) {
            Map<String, Object> m = Json.obj(o, "verified");
            return new VerifiedCms(Signer.from(m.get("signer")), Json.num(m, "timestamp_time"));
        }
    }

    /** A PDF's verdict: valid when it has signatures and every one is; the full report as JSON. */
    public record PdfVerdict(boolean valid, Map<String, Object> report) {
        static PdfVerdict from(Object o) {
            Map<String, Object> m = Json.obj(o, "verdict");
            return new PdfVerdict(Json.bool(m, "valid"), Json.obj(m.get("report"), "report"));
        }
    }
}
