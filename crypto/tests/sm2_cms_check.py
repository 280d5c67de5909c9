#!/usr/bin/env python3
"""Independent check of an SM2 CMS SignedData, with no Rust involved.

Usage: sm2_cms_check.py SIGNED.p7 [CONTENT]

asn1crypto parses the ContentInfo (PKCS#7 1.2.840.113549.1.7.2 or GB/T 35275
1.2.156.10197.6.1.4.2.2); for every SignerInfo the signer certificate is found by issuer and
serial, SM3 of the content (attached, or the CONTENT file) must equal the messageDigest
attribute, the contentType attribute must equal the eContentType, and gmssl-fast (GmSSL, C)
must verify the SM2 signature (default ID 1234567812345678) over the DER of the signed
attributes as a SET (tag 0x31). The same check on a flipped byte must fail, so the checker
itself is shown able to say no. Prints one JSON line; exits non-zero on any failure.
"""

import json
import sys

from asn1crypto import algos, cms, parser
import gmssl_fast

GM_SIGNED_DATA = "1.2.156.10197.6.1.4.2.2"
SM2_SIGNATURE_OIDS = {"1.2.156.10197.1.501", "1.2.156.10197.1.301.1", "1.2.156.10197.1.301"}
SM3_OID = "1.2.156.10197.1.401"


def fail(msg):
    print(json.dumps({"ok": False, "error": msg}))
    sys.exit(1)


def signed_data_of(der):
    ci = cms.ContentInfo.load(der)
    ct = ci["content_type"].dotted
    if ct == "1.2.840.113549.1.7.2":
        return ct, ci["content"]
    if ct == GM_SIGNED_DATA:
        # asn1crypto does not know the GB/T 35275 type: parse the [0] EXPLICIT content.
        explicit = parser.parse(ci["content"].dump())  # [0] EXPLICIT: its content is the TLV
        return ct, cms.SignedData.load(explicit[4])
    fail("not a signedData: " + ct)


def raw_signature(der_sig):
    rs = algos.DSASignature.load(der_sig).native
    return rs["r"].to_bytes(32, "big") + rs["s"].to_bytes(32, "big")


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: sm2_cms_check.py SIGNED.p7 [CONTENT]")
    der = open(sys.argv[1], "rb").read()
    ct, sd = signed_data_of(der)
    econtent_type = sd["encap_content_info"]["content_type"].dotted
    attached = sd["encap_content_info"]["content"]
    if len(sys.argv) == 3:
        if attached.native is not None:
            fail("content attached and given")
        content = open(sys.argv[2], "rb").read()
    else:
        if attached.native is None:
            fail("detached signature and no content given")
        # The eContent OCTET STRING's octets; asn1crypto parses a TSTInfo inside into a dict,
        # then its raw octets are the content.
        content = attached.native
        if not isinstance(content, bytes):
            content = attached.contents
    certs = [c.chosen for c in sd["certificates"]]
    results = []
    for si in sd["signer_infos"]:
        sid = si["sid"].chosen
        cert = next(
            (
                c
                for c in certs
                if c.issuer == sid["issuer"] and c.serial_number == sid["serial_number"].native
            ),
            None,
        )
        if cert is None:
            fail("signer certificate not in the message")
        if si["digest_algorithm"]["algorithm"].dotted != SM3_OID:
            fail("digest is not SM3")
        if si["signature_algorithm"]["algorithm"].dotted not in SM2_SIGNATURE_OIDS:
            fail("signature is not SM2")
        spki = cert["tbs_certificate"]["subject_public_key_info"]
        point = bytes(spki["public_key"])  # 04 || X || Y
        if len(point) != 65 or point[0] != 4:
            fail("not an uncompressed SM2 point")
        attrs = si["signed_attrs"]
        values = {a["type"].dotted: a["values"] for a in attrs}
        md = bytes(values["1.2.840.113549.1.9.4"][0].native)
        ctype = values["1.2.840.113549.1.9.3"][0].dotted
        if ctype != econtent_type:
            fail("contentType attribute differs from eContentType")
        if gmssl_fast.sm3(content) != md:
            fail("SM3 of the content differs from messageDigest")
        # The signature covers the DER of the attributes as a SET: tag 0x31, not [0].
        implicit = attrs.dump()
        if implicit[0] != 0xA0:
            fail("signed attributes not [0] IMPLICIT")
        set_der = b"\x31" + implicit[1:]
        sig = raw_signature(si["signature"].native)
        key = gmssl_fast.SM2(public_key=point.hex())
        if not key.verify(set_der, sig):
            fail("SM2 signature over the signed attributes does not verify")
        flipped = bytearray(set_der)
        flipped[-1] ^= 1
        try:
            refused = not key.verify(bytes(flipped), sig)
        except gmssl_fast.GmsslError:
            refused = True
        if not refused:
            fail("checker accepted a changed attribute set")
        results.append(
            {
                "subject": cert.subject.human_friendly,
                "message_digest": md.hex(),
                "signature_algorithm": si["signature_algorithm"]["algorithm"].dotted,
            }
        )
    print(json.dumps({"ok": True, "content_type": ct, "signers": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
