#!/usr/bin/env python3
"""Independent check of a GB/T 38540-2020 (v4) SESeal or SES_Signature, with no Rust involved.

Usage: ses_check.py seal SEAL.esl
       ses_check.py signature SIGNATURE.ses [DATA_SM3_HEX]

The schema is declared here from the standard (field order and tags as in GB/T 38540-2020
and ofdrw's org.ofdrw.gm.ses.v4). asn1crypto parses the structure; gmssl-fast (GmSSL, C)
verifies the seal maker's SM2 signature (default ID) over the DER of SES_SealInfo and, for a
signature, the signer's SM2 signature over the DER of TBS_Sign; SM3 hashes are GmSSL's. For a
signature the signer's certificate must be in the seal's certificate list, the signing time
(the timestamp's genTime if there is a timeStamp, else timeInfo) within the seal's validity,
the timestamp's imprint the SM3 of the signature value, and dataHash the given hash. Prints
one JSON line; exits non-zero on any failure.
"""

import json
import sys

from asn1crypto import algos, cms, core, tsp, x509
import gmssl_fast

SM2_WITH_SM3 = "1.2.156.10197.1.501"


class SesHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString


class SesEsPropertyInfo(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),  # CHOICE of two SEQUENCE OFs, told apart by cert_list_type
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class SesEsPictureInfo(core.Sequence):
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SesSealInfo(core.Sequence):
    _fields = [
        ("header", SesHeader),
        ("es_id", core.IA5String),
        ("property", SesEsPropertyInfo),
        ("picture", SesEsPictureInfo),
        ("ext_datas", core.Any, {"optional": True}),
    ]


class SeSeal(core.Sequence):
    _fields = [
        ("seal_info", SesSealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TbsSign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SeSeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", core.Any, {"optional": True}),
    ]


class SesSignature(core.Sequence):
    _fields = [
        ("to_sign", TbsSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


def fail(msg):
    print(json.dumps({"ok": False, "error": msg}, ensure_ascii=False))
    sys.exit(1)


def sm2_verify(cert_der, msg, sig_der):
    cert = x509.Certificate.load(cert_der)
    point = bytes(cert["tbs_certificate"]["subject_public_key_info"]["public_key"])
    if len(point) != 65 or point[0] != 4:
        fail("not an uncompressed SM2 point")
    if len(sig_der) == 64:
        raw = sig_der
    else:
        rs = algos.DSASignature.load(sig_der).native
        raw = rs["r"].to_bytes(32, "big") + rs["s"].to_bytes(32, "big")
    try:
        return gmssl_fast.SM2(public_key=point.hex()).verify(msg, raw)
    except gmssl_fast.GmsslError:
        return False


def check_seal(seal):
    info = seal["seal_info"]
    if info["header"]["id"].native != "ES" or info["header"]["version"].native != 4:
        fail("not a version 4 seal")
    if seal["sign_alg_id"].dotted != SM2_WITH_SM3:
        fail("seal not signed with SM2")
    maker = seal["cert"].native
    if not sm2_verify(maker, info.dump(), seal["signed_value"].native):
        fail("seal maker's signature does not verify")
    prop = info["property"]
    if prop["cert_list_type"].native != 1:
        fail("cert list type other than 1")
    certs = [c.native for c in CertInfoList.load(prop["cert_list"].dump())]
    pic = info["picture"]
    return {
        "es_id": info["es_id"].native,
        "name": prop["name"].native,
        "type": prop["type"].native,
        "maker": x509.Certificate.load(maker).subject.human_friendly,
        "certs": len(certs),
        "picture_type": pic["type"].native,
        "picture_sm3": gmssl_fast.sm3(pic["data"].native).hex(),
        "width_mm": pic["width"].native,
        "height_mm": pic["height"].native,
        "valid_start": prop["valid_start"].native.isoformat(),
        "valid_end": prop["valid_end"].native.isoformat(),
    }, certs, prop["valid_start"].native, prop["valid_end"].native


def main():
    if len(sys.argv) < 3:
        fail("usage: ses_check.py seal|signature FILE [DATA_SM3_HEX]")
    der = open(sys.argv[2], "rb").read()
    if sys.argv[1] == "seal":
        seal = SeSeal.load(der)
        if seal.dump(force=True) != der:
            fail("not DER")
        report, _, _, _ = check_seal(seal)
        print(json.dumps({"ok": True, "seal": report}, ensure_ascii=False))
        return
    ses = SesSignature.load(der)
    if ses.dump(force=True) != der:
        fail("not DER")
    tbs = ses["to_sign"]
    if tbs["version"].native != 4:
        fail("TBS_Sign version is not 4")
    if ses["signature_alg_id"].dotted != SM2_WITH_SM3:
        fail("signature not SM2")
    signer = ses["cert"].native
    sig = ses["signature"].native
    if not sm2_verify(signer, tbs.dump(), sig):
        fail("signer's signature over TBS_Sign does not verify")
    report, certs, start, end = check_seal(tbs["eseal"])
    if signer not in certs:
        fail("signer not in the seal's certificate list")
    when = tbs["time_info"].native
    stamped = None
    if ses["time_stamp"].native is not None:
        token = cms.ContentInfo.load(ses["time_stamp"].native)
        tst = token["content"]["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]["hashed_message"].native
        if gmssl_fast.sm3(sig) != imprint:
            fail("timestamp does not cover the signature value")
        when = tst["gen_time"].native
        stamped = when.isoformat()
    if not (start <= when <= end):
        fail("seal used outside its validity")
    data_hash = tbs["data_hash"].native
    if len(sys.argv) > 3 and bytes.fromhex(sys.argv[3]) != data_hash:
        fail("dataHash differs from the data")
    print(
        json.dumps(
            {
                "ok": True,
                "seal": report,
                "signer": x509.Certificate.load(signer).subject.human_friendly,
                "time_info": tbs["time_info"].native.isoformat(),
                "timestamp": stamped,
                "data_hash": data_hash.hex(),
                "property_info": tbs["property_info"].native,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
