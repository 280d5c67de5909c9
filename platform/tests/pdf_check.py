#!/usr/bin/env python3
"""pyHanko's view of a sealed PDF, independent of Bidkey's verifier.

Usage: pdf_check.py FILE.pdf ROOT.pem CA.pem MOMENT_UNIX

Validates every signature with pyHanko against the given root (the issuing CA as an other
certificate), at the given moment (tests never depend on the wall clock). Prints one JSON
line: for each signature its field name, intact, valid, coverage, modification level,
whether a timestamp is present and valid, and the signer's subject.
"""

import json
import sys
from datetime import datetime, timezone

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.keys import load_cert_from_pemder
from pyhanko_certvalidator import ValidationContext


def main():
    path, root, ca, moment = sys.argv[1:5]
    moment = datetime.fromtimestamp(int(moment), tz=timezone.utc)
    root_cert = load_cert_from_pemder(root)
    ca_cert = load_cert_from_pemder(ca)

    def vc():
        return ValidationContext(
            trust_roots=[root_cert], other_certs=[ca_cert], moment=moment,
            allow_fetching=False, revocation_mode="soft-fail",
        )

    out = []
    with open(path, "rb") as f:
        r = PdfFileReader(f, strict=True)
        for sig in r.embedded_signatures:
            st = validate_pdf_signature(sig, signer_validation_context=vc(), ts_validation_context=vc())
            out.append({
                "field": sig.field_name,
                "intact": bool(st.intact),
                "valid": bool(st.valid),
                "trusted": bool(st.trusted),
                "coverage": st.coverage.name if st.coverage is not None else None,
                "modification_level": st.modification_level.name if st.modification_level is not None else None,
                "docmdp_ok": st.docmdp_ok,
                "timestamp": st.timestamp_validity is not None,
                "timestamp_ok": bool(st.timestamp_validity is not None and st.timestamp_validity.intact and st.timestamp_validity.valid and st.timestamp_validity.trusted),
                "signer": st.signing_cert.subject.human_friendly,
                "summary": st.summary(),
            })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
