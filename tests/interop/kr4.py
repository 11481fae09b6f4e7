#!/usr/bin/env python3
"""Second implementation of kring change format 4, written from docs/protocol.md
alone (review rev4): strict canonical msgpack, change decode and verification
(version, signature, root, redactions, op structure), pair keys, key ops and
groups opened, changes built and signed, bundles read and written.

usage: kr4.py BUNDLE NODE.KEY   decode every change of a bundle sealed to that
                                node, open the key ops sealed to or by it, and
                                the groups those keys open.
Needs PyNaCl (Debian: python3-nacl)."""
import struct, sys, hashlib
import nacl.bindings as nb
from nacl.hash import blake2b as _b2
from nacl.encoding import RawEncoder


class Bad(Exception):
    pass


def b2(data, n=32, key=b''):
    return _b2(data, digest_size=n, key=key, encoder=RawEncoder)


# ---------------------------------------------------------------- msgpack
class Bin(bytes):
    pass


def _check_str(b):
    try:
        s = b.decode('utf-8')
    except UnicodeDecodeError:
        raise Bad('str not utf-8')
    for ch in s:
        o = ord(ch)
        if (o < 0x20 and ch not in '\t\n') or o == 0x7f or 0x80 <= o <= 0x9f:
            raise Bad('control char in str')
    return s


class Dec:
    def __init__(self, buf, pos=0):
        self.b = buf
        self.p = pos

    def need(self, n):
        if n > len(self.b) - self.p:
            raise Bad('truncated')
        r = self.b[self.p:self.p + n]
        self.p += n
        return r

    def u(self, n):
        return int.from_bytes(self.need(n), 'big')

    def value(self, depth=0):
        if depth > 64:
            raise Bad('too deep')
        t = self.u(1)
        if t <= 0x7f:
            return t
        if t == 0xc0:
            return None
        if t == 0xc2:
            return False
        if t == 0xc3:
            return True
        if t == 0xcc:
            v = self.u(1)
            if v < 128: raise Bad('long uint')
            return v
        if t == 0xcd:
            v = self.u(2)
            if v < 256: raise Bad('long uint')
            return v
        if t == 0xce:
            v = self.u(4)
            if v < 65536: raise Bad('long uint')
            return v
        if t == 0xcf:
            v = self.u(8)
            if v < 2**32: raise Bad('long uint')
            return v
        if 0xa0 <= t <= 0xbf:
            return _check_str(self.need(t - 0xa0))
        if t in (0xd9, 0xda, 0xdb):
            n = self.u({0xd9: 1, 0xda: 2, 0xdb: 4}[t])
            if (t == 0xd9 and n < 32) or (t == 0xda and n < 256) or (t == 0xdb and n < 65536):
                raise Bad('long str')
            return _check_str(self.need(n))
        if t in (0xc4, 0xc5, 0xc6):
            n = self.u({0xc4: 1, 0xc5: 2, 0xc6: 4}[t])
            if (t == 0xc5 and n < 256) or (t == 0xc6 and n < 65536):
                raise Bad('long bin')
            return Bin(self.need(n))
        if 0x90 <= t <= 0x9f:
            n = t - 0x90
        elif t == 0xdc:
            n = self.u(2)
            if n < 16: raise Bad('long array')
        elif t == 0xdd:
            n = self.u(4)
            if n < 65536: raise Bad('long array')
        else:
            raise Bad('type %02x refused' % t)
        if n > len(self.b) - self.p:
            raise Bad('array longer than input')
        return [self.value(depth + 1) for _ in range(n)]


def unpack(buf):
    d = Dec(buf)
    v = d.value()
    if d.p != len(buf):
        raise Bad('trailing bytes')
    return v


def pack(v):
    if v is None:
        return b'\xc0'
    if v is False:
        return b'\xc2'
    if v is True:
        return b'\xc3'
    if isinstance(v, int):
        if v < 128: return bytes([v])
        if v < 256: return b'\xcc' + bytes([v])
        if v < 65536: return b'\xcd' + v.to_bytes(2, 'big')
        if v < 2**32: return b'\xce' + v.to_bytes(4, 'big')
        return b'\xcf' + v.to_bytes(8, 'big')
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n < 32: return bytes([0xa0 + n]) + b
        if n < 256: return b'\xd9' + bytes([n]) + b
        if n < 65536: return b'\xda' + n.to_bytes(2, 'big') + b
        return b'\xdb' + n.to_bytes(4, 'big') + b
    if isinstance(v, (bytes, bytearray)):
        n = len(v)
        if n < 256: return b'\xc4' + bytes([n]) + bytes(v)
        if n < 65536: return b'\xc5' + n.to_bytes(2, 'big') + bytes(v)
        return b'\xc6' + n.to_bytes(4, 'big') + bytes(v)
    if isinstance(v, list):
        n = len(v)
        h = bytes([0x90 + n]) if n < 16 else (b'\xdc' + n.to_bytes(2, 'big') if n < 65536 else b'\xdd' + n.to_bytes(4, 'big'))
        return h + b''.join(pack(x) for x in v)
    raise TypeError(type(v))


# ---------------------------------------------------------------- change
CHANGE_MAX = 1 << 20
MAX_OPS = 10000


def isbin(v, n=None):
    return isinstance(v, Bin) and (n is None or len(v) == n)


def isuint(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Change:
    pass


def decode_change(buf):
    if len(buf) > CHANGE_MAX:
        raise Bad('too long')
    top = unpack(buf)
    if not isinstance(top, list) or len(top) != 3:
        raise Bad('outer array')
    hb, sig, ops = top
    if not isbin(hb):
        raise Bad('header not bin')
    h = unpack(hb)
    if not isinstance(h, list):
        raise Bad('header not array')
    if len(h) == 5:
        raise Bad('UNKNOWN: older version')
    if len(h) != 6:
        raise Bad('header len')
    ver, origin, seq, hlc, nonce, root = h
    if ver != 4 or not isuint(ver):
        raise Bad('UNKNOWN version')
    if not isbin(origin, 32) or not isuint(seq) or seq < 1 or not isuint(hlc) or not isbin(nonce, 16) or not isbin(root, 32):
        raise Bad('header fields')
    if not isbin(sig, 64):
        raise Bad('sig')
    try:
        nb.crypto_sign_open(bytes(sig) + bytes(hb), bytes(origin))
    except Exception:
        raise Bad('BADSIG')
    if not isinstance(ops, list) or not (1 <= len(ops) <= MAX_OPS):
        raise Bad('ops')
    hashes = []
    full = []
    for i, o in enumerate(ops):
        if isbin(o):
            hashes.append(b2(bytes(o)))
            full.append((i, bytes(o)))
        elif isinstance(o, list) and len(o) == 3 and o[0] == 0 and isuint(o[0]) and isbin(o[1], 16) and isbin(o[2], 32):
            hashes.append(bytes(o[2]))
        else:
            raise Bad('op %d neither bin nor redaction' % i)
    r = b2(b'kring-ops-4' + b''.join(hashes))
    if r != root:
        raise Bad('BADHASH root')
    c = Change()
    c.raw, c.hb, c.sig = buf, bytes(hb), bytes(sig)
    c.origin, c.seq, c.hlc, c.nonce, c.root = bytes(origin), seq, hlc, bytes(nonce), bytes(root)
    c.ops = ops
    c.hashes = hashes
    c.decoded = {}
    for i, ob in full:
        c.decoded[i] = decode_op(ob, c)
    return c


KINDS = {'foodbank', 'buurtteam', 'mzo', 'centre', 'care', 'other'}


def decode_op(ob, c):
    o = unpack(ob)
    if not isinstance(o, list) or len(o) < 2 or not isuint(o[0]):
        raise Bad('op shape')
    t = o[0]
    shape = {5: 6, 6: 3, 7: 4, 8: 7, 9: 5, 10: 5, 11: 6, 12: 3, 13: 5}
    if t not in shape:
        raise Bad('UNKNOWN op type %d' % t)
    if len(o) != shape[t] or not isbin(o[1], 16):
        raise Bad('op %d shape' % t)
    if t == 10:
        _, s, ep, cr, box = o
        if not (isuint(ep) and 1 <= ep <= 2**32 - 1 and isbin(cr, 32) and isbin(box) and len(box) >= 16):
            raise Bad('group')
    elif t == 11:
        _, s, ep, cr, rd, box = o
        if not (isuint(ep) and 1 <= ep <= 2**32 - 1 and isbin(cr, 32) and isbin(rd, 32) and isbin(box, 48)):
            raise Bad('key op')
    elif t == 12:
        if not isbin(o[2], 16) or b2(c.origin + bytes(o[2]), 16) != o[1]:
            raise Bad('BADSIG register')
    elif t == 13:
        _, k, name, desc, tv = o
        if not all(isinstance(x, str) for x in (name, desc, tv)):
            raise Bad('purpose types')
        if b2(name.encode(), 16) != k:
            raise Bad('purpose key')
    elif t == 8:
        _, inv, mem, org, kind, ipk, proof = o
        if not (isbin(mem, 32) and isinstance(org, str) and kind in KINDS and isbin(ipk, 32) and isbin(proof, 64)):
            raise Bad('admit')
        if b2(bytes(ipk), 16) != inv:
            raise Bad('BADSIG admit id')
        try:
            nb.crypto_sign_open(bytes(proof) + b'kring-admit-v1' + bytes(mem), bytes(ipk))
        except Exception:
            raise Bad('BADSIG admit proof')
    elif t == 7:
        if not (isinstance(o[2], str) and o[3] in KINDS):
            raise Bad('found')
    elif t == 9:
        if not (isbin(o[2], 32) and isuint(o[3]) and isinstance(o[4], str)):
            raise Bad('expel')
    elif t == 6:
        if not isinstance(o[2], str):
            raise Bad('erase')
    elif t == 5:
        _, s, pur, rc, m, tv = o
        if not (isinstance(pur, str) and (rc is None or isbin(rc, 32)) and isuint(m) and isinstance(tv, str)):
            raise Bad('withdraw')
    return o


# ---------------------------------------------------------------- crypto
def aead_nonce(c, place, slot=0):
    return c.nonce + struct.pack('>II', place, slot)


def load_key(path):
    k = open(path, 'rb').read()
    assert len(k) == 64
    pk, sk = nb.crypto_sign_seed_keypair(k[:32])
    assert pk == k[32:]
    return sk, pk


def pair_key(own_sk, other_pk):
    xs = nb.crypto_sign_ed25519_sk_to_curve25519(own_sk)
    xself = nb.crypto_sign_ed25519_pk_to_curve25519(own_sk[32:])
    xo = nb.crypto_sign_ed25519_pk_to_curve25519(other_pk)
    q = nb.crypto_scalarmult(xs, xo)
    lo, hi = sorted([xself, xo])
    return b2(b'kring-pair-1' + q + lo + hi)


def key_ad(network, c, subject, epoch, creator, reader):
    return b'kring-key-3' + network + c.origin + bytes(subject) + struct.pack('>Q', epoch) + bytes(creator) + bytes(reader)


def open_key_op(c, place, network, own_sk, verbose=False):
    o = c.decoded[place]
    _, s, ep, cr, rd, box = o
    own_pk = own_sk[32:]
    if own_pk == bytes(rd):
        other = c.origin
    elif own_pk == c.origin:
        other = bytes(rd)
    else:
        return None
    pk = pair_key(own_sk, other)
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(box), key_ad(network, c, s, ep, cr, rd), aead_nonce(c, place), pk)
    except Exception as e:
        if verbose:
            print('key op open failed', e)
        return None


def group_ad(network, c, place, subject, epoch, creator):
    return (b'kring-group-2' + network + c.origin + struct.pack('>Q', c.seq) + struct.pack('>I', place) +
            bytes(subject) + struct.pack('>Q', epoch) + bytes(creator))


def open_group(c, place, network, vkey):
    _, s, ep, cr, box = c.decoded[place]
    try:
        plain = nb.crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(box), group_ad(network, c, place, s, ep, cr), aead_nonce(c, place), vkey)
    except Exception:
        return None
    inner = unpack(plain)
    if not isinstance(inner, list) or not (1 <= len(inner) <= 65535):
        raise Bad('inner array')
    for io in inner:
        check_inner(io)
    return inner


def check_inner(io):
    if not isinstance(io, list) or not io or not isuint(io[0]):
        raise Bad('inner shape')
    t = io[0]
    if t == 1:
        ok = len(io) == 3 and isuint(io[1]) and 1 <= io[1] <= 11 and (io[2] is None or isinstance(io[2], str))
    elif t in (2, 3):
        ok = len(io) == (3 if t == 2 else 4) and isuint(io[1]) and 32 <= io[1] <= 36 and isinstance(io[2], str) and io[2] != ''
        if t == 3 and ok:
            ok = isinstance(io[3], list) and all(isbin(x, 16) for x in io[3]) and list(io[3]) == sorted(set(io[3]))
    elif t == 4:
        ok = len(io) == 7 and isinstance(io[1], str) and (io[2] is None or isbin(io[2], 32)) and isuint(io[3]) and io[3] <= 3
        ok = ok and isinstance(io[6], list) and all(isbin(x, 16) for x in io[6]) and list(io[6]) == sorted(set(io[6]))
    else:
        ok = False
    if not ok:
        raise Bad('inner op %r' % (io,))


# ---------------------------------------------------------------- encode
def encode_change(sk, origin, seq, hlc, nonce, ops):
    """ops: list of bytes (full op) or (subject, hash) tuples (redactions)"""
    hashes = [b2(o) if isinstance(o, (bytes, bytearray)) else o[1] for o in ops]
    root = b2(b'kring-ops-4' + b''.join(hashes))
    hb = pack([4, origin, seq, hlc, nonce, root])
    sig = nb.crypto_sign(hb, sk)[:64]
    return pack([hb, sig, [bytes(o) if isinstance(o, (bytes, bytearray)) else [0, o[0], o[1]] for o in ops]])


# ---------------------------------------------------------------- bundle
MAGIC = b'KRINGBN1'


def read_bundle(path, own_sk, verbose=True):
    d = open(path, 'rb').read()
    if d[:8] != MAGIC:
        raise Bad('magic')
    hlen = struct.unpack('>I', d[8:12])[0]
    hbytes = d[12:12 + hlen]
    h = unpack(hbytes)
    ver, network, exporter, created, forn, vector, count, recips, sh = h
    assert ver == 2
    own_pk = own_sk[32:]
    xpk = nb.crypto_sign_ed25519_pk_to_curve25519(own_pk)
    xsk = nb.crypto_sign_ed25519_sk_to_curve25519(own_sk)
    fk = None
    for node, sealed in recips:
        if node == own_pk:
            fk = nb.crypto_box_seal_open(bytes(sealed), xpk, xsk)
    if fk is None:
        raise Bad('no sealed key')
    ad = b2(d[:12 + hlen])
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(st, bytes(sh), fk)
    p = 12 + hlen
    body = b''
    final = False
    while True:
        clen = struct.unpack('>I', d[p:p + 4])[0]
        p += 4
        if clen == 0:
            break
        if final:
            raise Bad('chunk after final')
        m, tag = nb.crypto_secretstream_xchacha20poly1305_pull(st, d[p:p + clen], ad)
        p += clen
        body += m
        final = tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    if not final:
        raise Bad('no final')
    sig = d[p:p + 64]
    if len(d) != p + 64:
        raise Bad('trailing')
    nb.crypto_sign_open(sig + b'kring-bundle-v1' + b2(d[:p], 64), bytes(exporter))
    changes = []
    q = 0
    while q < len(body):
        n = struct.unpack('>I', body[q:q + 4])[0]
        changes.append(body[q + 4:q + 4 + n])
        q += 4 + n
    if len(changes) != count:
        raise Bad('count')
    return dict(network=bytes(network), exporter=bytes(exporter), created=created, forn=forn, vector=vector,
                count=count, recips=recips), changes


def write_bundle(path, exp_sk, network, members, changes, vector=None, created_ms=0, forn=None):
    exporter = exp_sk[32:]
    fk = nb.crypto_secretstream_xchacha20poly1305_keygen()
    recips = []
    for m in sorted(members):
        recips.append([m, nb.crypto_box_seal(fk, nb.crypto_sign_ed25519_pk_to_curve25519(m))])
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    sh = nb.crypto_secretstream_xchacha20poly1305_init_push(st, fk)
    hdr = pack([2, network, exporter, created_ms, forn, vector or [], len(changes), recips, sh])
    pre = MAGIC + struct.pack('>I', len(hdr)) + hdr
    ad = b2(pre)
    body = b''.join(struct.pack('>I', len(c)) + c for c in changes)
    ct = nb.crypto_secretstream_xchacha20poly1305_push(st, body, ad, nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
    out = pre + struct.pack('>I', len(ct)) + ct + struct.pack('>I', 0)
    sig = nb.crypto_sign(b'kring-bundle-v1' + b2(out, 64), exp_sk)[:64]
    open(path, 'wb').write(out + sig)


# ---------------------------------------------------------------- dump
def hx(b): return bytes(b).hex()[:12]
def dump(bundle, keyfile):
    sk, pk = load_key(keyfile)
    info, chs = read_bundle(bundle, sk)
    net = info['network']
    print('bundle net', net.hex(), 'exporter', hx(info['exporter']), 'count', info['count'])
    keys = {}   # (subject, epoch, creator) -> [key]
    cs = [decode_change(b) for b in chs]
    for c in cs:
        print('change', hx(c.origin), 'seq', c.seq, 'hlc', c.hlc, 'nonce', c.nonce.hex(), 'nops', len(c.ops))
        for i, o in enumerate(c.ops):
            if i not in c.decoded:
                print('  ', i, 'REDACTED', o); continue
            o = c.decoded[i]
            if o[0] == 11:
                k = open_key_op(c, i, net, sk, True)
                print('  ', i, 'key subj', hx(o[1]), 'epoch', o[2], 'creator', hx(o[3]), 'reader', hx(o[4]), 'opened' if k else 'not for me/failed')
                if k: keys.setdefault((bytes(o[1]), o[2], bytes(o[3])), set()).add(k)
            elif o[0] == 10:
                print('  ', i, 'group subj', hx(o[1]), 'epoch', o[2], 'creator', hx(o[3]), 'box', len(o[4]))
            else:
                print('  ', i, [hx(x) if isinstance(x, bytes) else x for x in o])
    for c in cs:
        for i, o in c.decoded.items():
            if o[0] == 10:
                ks = keys.get((bytes(o[1]), o[2], bytes(o[3])), ())
                res = None
                for k in ks:
                    res = open_group(c, i, net, k)
                    if res: break
                print('group', hx(c.origin), c.seq, i, '->', res if res else ('no key' if not ks else 'FAILED'))
    return cs
if __name__ == '__main__':
    dump(sys.argv[1], sys.argv[2])
