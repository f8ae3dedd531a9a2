#!/usr/bin/env python3
"""Checks apikeys access tokens independently of the extension (standard library only).

  token_interop.py check-hs256 --secret-hex HEX [--issuer ISS] [--now SECONDS]
                               [--expect CLAIM=VALUE]... [--expect-perms JSON]  < token
      Verifies an HS256 token with the signing secret (hex, as apikeys.signing_keys holds
      it) and checks the header and every claim apikeys documents. Prints the claims as
      JSON and exits 0, or prints why to stderr and exits 1.

  token_interop.py sign-hs256 --secret-hex HEX --kid KID --claims JSON
      Prints a token signed here, for the extension to verify (the other direction).

  token_interop.py split-eddsa --jwks JSON --outdir DIR [--issuer ISS] [--now SECONDS] < token
      Checks an EdDSA token's header and claims, finds its public key in the JWK Set
      (apikeys.jwks()), and writes DIR/pub.pem, DIR/msg and DIR/sig so that
      `openssl pkeyutl -verify -pubin -inkey DIR/pub.pem -rawin -in DIR/msg -sigfile DIR/sig`
      checks the Ed25519 signature (Python's standard library has no Ed25519).
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import sys
import time

CLOCK_SKEW = 60
MAX_TTL = 24 * 3600
B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class Mismatch(Exception):
    pass


def b64url_decode(s):
    """Strict base64url: no padding, alphabet only, canonical (re-encodes to itself)."""
    if not B64URL.match(s) or len(s) % 4 == 1:
        raise Mismatch(f"not base64url: {s[:40]!r}")
    data = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64url_encode(data) != s:
        raise Mismatch(f"non-canonical base64url: {s[:40]!r}")
    return data


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def no_duplicates(pairs):
    names = [k for k, _ in pairs]
    if len(names) != len(set(names)):
        raise Mismatch(f"duplicate member names: {names}")
    return dict(pairs)


def split(token):
    parts = token.split(".")
    if len(parts) != 3:
        raise Mismatch(f"a compact JWS has 3 parts, this has {len(parts)}")
    header = json.loads(b64url_decode(parts[0]), object_pairs_hook=no_duplicates)
    payload = json.loads(b64url_decode(parts[1]), object_pairs_hook=no_duplicates)
    signature = b64url_decode(parts[2])
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return header, payload, signature, signing_input


def check_header(header, alg):
    if header.get("alg") != alg:
        raise Mismatch(f"alg is {header.get('alg')!r}, expected {alg!r}")
    if header.get("typ") != "JWT":
        raise Mismatch(f"typ is {header.get('typ')!r}")
    if not isinstance(header.get("kid"), str) or not re.match(r"^[A-Za-z0-9_-]{1,64}$", header["kid"]):
        raise Mismatch(f"kid is {header.get('kid')!r}")
    if set(header) != {"alg", "typ", "kid"}:
        raise Mismatch(f"unexpected header members: {sorted(header)}")


def check_claims(c, issuer, now, expect, expect_perms):
    required = {"iss", "sub", "tenant", "perms", "iat", "nbf", "exp", "jti"}
    missing = required - set(c)
    if missing:
        raise Mismatch(f"missing claims: {sorted(missing)}")
    extra = set(c) - required - {"owner", "key_set_id"}
    if extra:
        raise Mismatch(f"unexpected claims: {sorted(extra)}")
    if c["iss"] != issuer:
        raise Mismatch(f"iss is {c['iss']!r}, expected {issuer!r}")
    if not isinstance(c["sub"], str) or not re.match(r"^[1-9][0-9]{0,18}$", c["sub"]) or int(c["sub"]) >= 2**63:
        raise Mismatch(f"sub is not a decimal key id: {c['sub']!r}")
    if not isinstance(c["tenant"], str):
        raise Mismatch("tenant is not a string")
    if not isinstance(c["perms"], list) or not all(isinstance(p, str) for p in c["perms"]):
        raise Mismatch("perms is not an array of strings")
    for name in ("owner", "key_set_id"):
        if name in c and not isinstance(c[name], str):
            raise Mismatch(f"{name} is not a string")
    if "key_set_id" in c and not re.match(r"^[1-9][0-9]{0,18}$", c["key_set_id"]):
        raise Mismatch("key_set_id is not a decimal id")
    for name in ("iat", "nbf", "exp"):
        if not isinstance(c[name], int) or isinstance(c[name], bool):
            raise Mismatch(f"{name} is not an integer NumericDate")
    if c["nbf"] != c["iat"]:
        raise Mismatch("nbf differs from iat")
    if not 0 < c["exp"] - c["iat"] <= MAX_TTL:
        raise Mismatch(f"lifetime {c['exp'] - c['iat']} s is not in (0, {MAX_TTL}]")
    if now >= c["exp"]:
        raise Mismatch(f"expired: exp {c['exp']} <= now {now}")
    if c["iat"] > now + CLOCK_SKEW:
        raise Mismatch(f"issued in the future: iat {c['iat']}, now {now}")
    if not isinstance(c["jti"], str) or len(b64url_decode(c["jti"])) != 16:
        raise Mismatch("jti is not 128 bits of base64url")
    for item in expect:
        name, _, value = item.partition("=")
        if str(c.get(name)) != value:
            raise Mismatch(f"claim {name} is {c.get(name)!r}, expected {value!r}")
    if expect_perms is not None and c["perms"] != json.loads(expect_perms):
        raise Mismatch(f"perms are {c['perms']!r}, expected {expect_perms}")


def check_hs256(args):
    token = sys.stdin.read().strip()
    header, payload, signature, signing_input = split(token)
    check_header(header, "HS256")
    secret = binascii.unhexlify(args.secret_hex.removeprefix("\\x"))
    if len(secret) < 32:
        raise Mismatch("an HS256 secret has at least 32 bytes")
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, signature):
        raise Mismatch("HMAC-SHA-256 signature mismatch")
    check_claims(payload, args.issuer, args.now, args.expect, args.expect_perms)
    print(json.dumps(payload, sort_keys=True))


def sign_hs256(args):
    secret = binascii.unhexlify(args.secret_hex.removeprefix("\\x"))
    header = json.dumps({"alg": "HS256", "kid": args.kid, "typ": "JWT"}, separators=(",", ":")).encode()
    payload = json.dumps(json.loads(args.claims), separators=(",", ":")).encode()
    signing_input = b64url_encode(header) + "." + b64url_encode(payload)
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    print(signing_input + "." + b64url_encode(mac))


# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
# 1.3.101.112 }, BIT STRING { 32 bytes } }.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def split_eddsa(args):
    token = sys.stdin.read().strip()
    header, payload, signature, signing_input = split(token)
    check_header(header, "EdDSA")
    if len(signature) != 64:
        raise Mismatch(f"an Ed25519 signature has 64 bytes, not {len(signature)}")
    keys = [k for k in json.loads(args.jwks)["keys"] if k.get("kid") == header["kid"]]
    if len(keys) != 1:
        raise Mismatch(f"kid {header['kid']!r} is not in the JWK Set once")
    jwk = keys[0]
    if (jwk.get("kty"), jwk.get("crv"), jwk.get("alg")) != ("OKP", "Ed25519", "EdDSA"):
        raise Mismatch(f"not an Ed25519 OKP key: {jwk}")
    x = b64url_decode(jwk["x"])
    if len(x) != 32:
        raise Mismatch("x is not 32 bytes")
    check_claims(payload, args.issuer, args.now, args.expect, args.expect_perms)
    der = ED25519_SPKI_PREFIX + x
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
    with open(os.path.join(args.outdir, "pub.pem"), "w") as f:
        f.write(pem)
    with open(os.path.join(args.outdir, "msg"), "wb") as f:
        f.write(signing_input)
    with open(os.path.join(args.outdir, "sig"), "wb") as f:
        f.write(signature)
    print(json.dumps(payload, sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    for name in ("check-hs256", "split-eddsa"):
        p = sub.add_parser(name)
        p.add_argument("--issuer", default="apikeys")
        p.add_argument("--now", type=int, default=int(time.time()))
        p.add_argument("--expect", action="append", default=[], metavar="CLAIM=VALUE")
        p.add_argument("--expect-perms", metavar="JSON")
        if name == "check-hs256":
            p.add_argument("--secret-hex", required=True)
        else:
            p.add_argument("--jwks", required=True)
            p.add_argument("--outdir", required=True)
    p = sub.add_parser("sign-hs256")
    p.add_argument("--secret-hex", required=True)
    p.add_argument("--kid", required=True)
    p.add_argument("--claims", required=True)
    args = ap.parse_args()
    try:
        {"check-hs256": check_hs256, "sign-hs256": sign_hs256, "split-eddsa": split_eddsa}[args.mode](args)
    except (Mismatch, ValueError, KeyError, binascii.Error) as e:
        print(f"token_interop: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
