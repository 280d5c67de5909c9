#!/usr/bin/env python3
"""Sign a PDF with pyHanko (a signer nobody on this project wrote), for Bidkey's verifier.

Usage: pdf_pyhanko_sign.py IN.pdf OUT.pdf KEY.pem CERT.pem FIELD

A new visible signature field FIELD on page 1, SHA-256, no timestamp (no network).
"""

import sys

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers


def main():
    inp, out, key, cert, field = sys.argv[1:6]
    signer = signers.SimpleSigner.load(key, cert, key_passphrase=None)
    with open(inp, "rb") as f:
        w = IncrementalPdfFileWriter(f, strict=False)
        meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256")
        with open(out, "wb") as o:
            signers.sign_pdf(
                w,
                meta,
                signer=signer,
                output=o,
                new_field_spec=fields.SigFieldSpec(field, box=(50, 50, 150, 100)),
            )


if __name__ == "__main__":
    main()
