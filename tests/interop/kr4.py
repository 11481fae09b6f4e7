#!/usr/bin/env python3
"""Second implementation of kring change format 4 (with records, bundle
version 3), written from docs/protocol.md alone (not from crdt/*.c):
strict canonical msgpack; a change decoded and verified (structure,
version 4, header with node table, signature, root over the ops' leaves,
registering records' derived subjects, redactions); every op decoded, node
numbers resolved, the rules across a change's records checked; the key
entries of records sealed to a node opened with the pair key; groups (the
records' boxes) opened with the keys obtained and their inner ops decoded
by code; bundles read (and written) for a node key.

usage:
  kr4.py read BUNDLE NODE.KEY [--json OUT]   verify every change of a bundle,
        open the key entries sealed to this node and the groups those keys
        open; print what was read (and write it as JSON to OUT). Exit 1 on
        any change that does not verify, any key entry sealed to the node
        that does not open, any group of a key it holds that does not open
        or decode, any change whose writer broke a writer's rule the doc
        states (node table exactly the nodes named; key-only records of a
        volunteer before the record with its box).
  kr4.py changes BUNDLE NODE.KEY DIR         write each change as DIR/NNNN.chg
  kr4.py change FILE                         decode and verify one change
        (no network id: key entries and groups are not opened); exit 1 if
        refused
  kr4.py flip FILE OUT [PLACE]               copy a change with the last byte of
        op PLACE (default: the last op in full) flipped: the signature stays,
        the root no longer matches
  kr4.py craft FILE ORIGIN.KEY OUT KIND [SUBJECT NODE]   the change (one
        with a registering record) re-made by this implementation and
        re-signed with ORIGIN.KEY, made over as KIND says, around records on
        SUBJECT with key entries to NODE (both hex); kr4.py craft - - - list:
        the kinds, each that breaks a rule of records one step from valid
  kr4.py rebundle BUNDLE NODE.KEY EXPORTER.KEY OUT [N [KIND [SUBJECT NODE]]]
        the same changes in a bundle this implementation writes, signed by
        EXPORTER.KEY, change N flipped as above (KIND flip, the default) or
        crafted as KIND (re-signed with EXPORTER.KEY, which must be its
        origin's)
  kr4.py selftest                            the examples of protocol.md, and
        changes that break each rule of a record

Needs PyNaCl (Debian: python3-nacl)."""
import datetime, json, os, re, struct, sys, types
import nacl.bindings as nb
from nacl.hash import blake2b as _b2
from nacl.encoding import RawEncoder


class Bad(Exception):
    """A refusal: code is the kring error name protocol.md gives."""
    def __init__(self, code, msg):
        Exception.__init__(self, '%s: %s' % (code, msg))
        self.code = code


def b2(data, n=32, key=b''):
    return _b2(bytes(data), digest_size=n, key=key, encoder=RawEncoder)


# ---------------------------------------------------------------- msgpack
class Bin(bytes):
    pass


def _check_str(b):
    try:
        s = b.decode('utf-8')
    except UnicodeDecodeError:
        raise Bad('KR_EMALFORMED', 'str not UTF-8')
    for ch in s:
        o = ord(ch)
        if (o < 0x20 and ch not in '\t\n') or o == 0x7f or 0x80 <= o <= 0x9f:
            raise Bad('KR_EMALFORMED', 'control character in str')
    return s


class Dec:
    """Canonical msgpack: nil, bool, uint, str, bin, array; shortest forms."""
    def __init__(self, buf, pos=0):
        self.b = bytes(buf)
        self.p = pos

    def left(self):
        return len(self.b) - self.p

    def need(self, n):
        if n > self.left():
            raise Bad('KR_EMALFORMED', 'declared length past the end')
        r = self.b[self.p:self.p + n]
        self.p += n
        return r

    def u(self, n):
        return int.from_bytes(self.need(n), 'big')

    def array_header(self):
        t = self.u(1)
        if 0x90 <= t <= 0x9f:
            n = t - 0x90
        elif t == 0xdc:
            n = self.u(2)
            if n < 16: raise Bad('KR_EMALFORMED', 'long array form')
        elif t == 0xdd:
            n = self.u(4)
            if n < 65536: raise Bad('KR_EMALFORMED', 'long array form')
        else:
            raise Bad('KR_EMALFORMED', 'not an array')
        if n > self.left():
            raise Bad('KR_EMALFORMED', 'array longer than the input')
        return n

    def value(self, depth=0):
        if depth > 64:
            raise Bad('KR_EMALFORMED', 'too deep')
        t = self.b[self.p] if self.p < len(self.b) else None
        if t is not None and (0x90 <= t <= 0x9f or t in (0xdc, 0xdd)):
            return [self.value(depth + 1) for _ in range(self.array_header())]
        t = self.u(1)
        if t <= 0x7f:
            return t
        if t == 0xc0:
            return None
        if t == 0xc2:
            return False
        if t == 0xc3:
            return True
        if t in (0xcc, 0xcd, 0xce, 0xcf):
            w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[t]
            v = self.u(w)
            if v < {1: 128, 2: 256, 4: 65536, 8: 2**32}[w]:
                raise Bad('KR_EMALFORMED', 'long uint form')
            return v
        if 0xa0 <= t <= 0xbf:
            return _check_str(self.need(t - 0xa0))
        if t in (0xd9, 0xda, 0xdb):
            n = self.u({0xd9: 1, 0xda: 2, 0xdb: 4}[t])
            if n < {0xd9: 32, 0xda: 256, 0xdb: 65536}[t]:
                raise Bad('KR_EMALFORMED', 'long str form')
            return _check_str(self.need(n))
        if t in (0xc4, 0xc5, 0xc6):
            n = self.u({0xc4: 1, 0xc5: 2, 0xc6: 4}[t])
            if (t == 0xc5 and n < 256) or (t == 0xc6 and n < 65536):
                raise Bad('KR_EMALFORMED', 'long bin form')
            return Bin(self.need(n))
        raise Bad('KR_EMALFORMED', 'msgpack type %02x refused' % t)


def unpack(buf):
    d = Dec(buf)
    v = d.value()
    if d.left():
        raise Bad('KR_EMALFORMED', 'trailing bytes')
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


# ---------------------------------------------------------------- checks
def isbin(v, n=None):
    return isinstance(v, Bin) and (n is None or len(v) == n)


def isuint(v):
    return isinstance(v, int) and not isinstance(v, bool)


def isstr(v, lo=0, hi=None):
    if not isinstance(v, str):
        return False
    n = len(v.encode())
    return n >= lo and (hi is None or n <= hi)


def ascending_tags(v, maxn=4096):
    return (isinstance(v, list) and len(v) <= maxn and all(isbin(x, 16) for x in v)
            and all(v[i] < v[i + 1] for i in range(len(v) - 1)))


PURPOSE_RE = re.compile(r'[a-z0-9-]{1,40}\Z')
KINDS = ('foodbank', 'buurtteam', 'mzo', 'centre', 'care', 'other')


def ispurpose(v):
    return isinstance(v, str) and PURPOSE_RE.match(v) is not None


# ---------------------------------------------------------------- change
CHANGE_MAX = 1 << 20
MAX_OPS = 10000
MAX_NODES = 4096
WITHDRAW, ERASE, PURPOSE, RECORD, REGISTERING = 5, 6, 13, 14, 15
WITHHELD_TYPES = (WITHDRAW, RECORD, REGISTERING)
NAMES = {5: 'withdraw', 6: 'erase', 7: 'found', 8: 'admit', 9: 'expel', 13: 'purpose', 14: 'record',
         15: 'registering record'}
SHAPE = {5: 6, 6: 3, 7: 4, 8: 7, 9: 5, 13: 5, 14: 6, 15: 5}     # elements of each op's array
GONE = {10: 'group', 11: 'key op', 12: 'registration'}            # ops of their own before records


class Change:
    def node(self, num, what):
        """A node number of this change's table: 0 the origin, i + 1 nodes[i]."""
        if not isuint(num) or num > len(self.nodes):
            raise Bad('KR_EMALFORMED', '%s: node number %r not in the table' % (what, num))
        return self.origin if num == 0 else self.nodes[num - 1]

    def tag(self, place, j=0):
        """Identity of an op: BLAKE2b-128(origin, seq (8), index (4)), index = place << 16 | j."""
        return b2(self.origin + struct.pack('>QI', self.seq, place << 16 | j), 16)


def derived_subject(origin, nonce, r):
    """protocol.md "Operations of a change": the subject of the change's registering record r
    (counting from 0, withheld ones included) = BLAKE2b-128(origin ‖ nonce ‖ r (4, big-endian))."""
    return b2(bytes(origin) + bytes(nonce) + struct.pack('>I', r), 16)


def op_head(ob):
    """Step 4: an op's bin starts with an array of at least 2 elements, a uint of at most 255
    and, unless the uint is 15 (a registering record names no subject), a bin(16).
    Returns (type, subject or None)."""
    d = Dec(ob)
    if d.array_header() < 2:
        raise Bad('KR_EMALFORMED', 'op: array of fewer than 2 elements')
    t = d.value()
    if not isuint(t):
        raise Bad('KR_EMALFORMED', 'op: not a uint first')
    if t > 255:   # the leaf has one byte for it
        raise Bad('KR_EMALFORMED', 'op type %d does not fit the leaf' % t)
    if t == REGISTERING:
        return t, None
    s = d.value()
    if not isbin(s, 16):
        raise Bad('KR_EMALFORMED', 'op: not a uint and a bin(16) first')
    return t, bytes(s)


def leaf(t, subject, h):
    return b2(bytes([t]) + subject + h)


def is_redaction(o):
    return (isinstance(o, list) and len(o) == 4 and isuint(o[0]) and o[0] == 0 and isuint(o[1])
            and isbin(o[2], 16) and isbin(o[3], 32))


def decode_change(buf, maximum=CHANGE_MAX):
    """protocol.md "What a decoder checks, in order"; raises Bad."""
    buf = bytes(buf)
    if len(buf) > min(maximum, CHANGE_MAX):                           # 1
        raise Bad('KR_ETOOBIG', 'longer than KR_CHANGE_MAX')
    d = Dec(buf)                                                      # 2
    if d.array_header() != 3:
        raise Bad('KR_EMALFORMED', 'outer array not of 3')
    hb = d.value()
    if not isbin(hb):
        raise Bad('KR_EMALFORMED', 'header not a bin')
    h = unpack(hb)
    if not isinstance(h, list):
        raise Bad('KR_EMALFORMED', 'header not an array')
    if len(h) in (5, 6):
        raise Bad('KR_EUNKNOWN', 'a change of an older version')
    if len(h) != 7:
        raise Bad('KR_EMALFORMED', 'header of %d elements' % len(h))
    ver, origin, seq, hlc, nonce, nodes, root = h
    if not isuint(ver) or ver != 4:
        raise Bad('KR_EUNKNOWN', 'version %r' % (ver,))
    if not isbin(origin, 32):
        raise Bad('KR_EMALFORMED', 'origin')
    if not isuint(seq) or seq < 1 or seq >= 2**63:
        raise Bad('KR_EMALFORMED', 'seq not from 1 to 2^63 - 1')
    if not isuint(hlc) or hlc >= 2**63:
        raise Bad('KR_EMALFORMED', 'hlc not below 2^63')
    if not isbin(nonce, 16):
        raise Bad('KR_EMALFORMED', 'nonce')
    if not isinstance(nodes, list):
        raise Bad('KR_EMALFORMED', 'node table not an array')
    if len(nodes) > MAX_NODES:
        raise Bad('KR_ETOOBIG', 'node table of %d ids' % len(nodes))
    if not all(isbin(x, 32) and x != origin for x in nodes):
        raise Bad('KR_EMALFORMED', 'node table: an entry not a bin(32), or the origin')
    if not all(nodes[i] < nodes[i + 1] for i in range(len(nodes) - 1)):
        raise Bad('KR_ENONCANON', 'node table not strictly ascending')
    if not isbin(root, 32):
        raise Bad('KR_EMALFORMED', 'root')
    sig = d.value()
    if not isbin(sig, 64):
        raise Bad('KR_EMALFORMED', 'signature not a bin(64)')
    try:                                                              # 3
        nb.crypto_sign_open(bytes(sig) + bytes(hb), bytes(origin))
    except Exception:
        raise Bad('KR_EBADSIG', 'signature over the header')
    ops = d.value()                                                   # 4
    if d.left():
        raise Bad('KR_EMALFORMED', 'trailing bytes')
    if not isinstance(ops, list):
        raise Bad('KR_EMALFORMED', 'ops not an array')
    if len(ops) > MAX_OPS:
        raise Bad('KR_ETOOBIG', 'ops array of %d' % len(ops))
    if not ops:
        raise Bad('KR_EMALFORMED', 'empty ops array')
    leaves, heads = [], []
    r = 0                   # registering records so far, withheld ones included
    for i, o in enumerate(ops):
        if isbin(o):
            t, s = op_head(o)
            hh = b2(o)
            if t == REGISTERING:
                s = derived_subject(origin, nonce, r)
                r += 1
        elif is_redaction(o):
            t, s, hh = o[1], bytes(o[2]), bytes(o[3])
            if t not in WITHHELD_TYPES:
                raise Bad('KR_EMALFORMED', 'op %d: a redaction of type %d' % (i, t))
            if t == REGISTERING:
                if s != derived_subject(origin, nonce, r):
                    raise Bad('KR_EMALFORMED', 'op %d: a redaction of registering record %d under another '
                              'subject than the one derived for it' % (i, r))
                r += 1
        else:
            raise Bad('KR_EMALFORMED', 'op %d neither a bin nor a redaction' % i)
        heads.append((t, s, hh))
        leaves.append(leaf(t, s, hh))
    if b2(b'kring-ops-4' + b''.join(leaves)) != root:                 # 5
        raise Bad('KR_EBADHASH', 'root mismatch: the ops are not those the header signs')
    c = Change()
    c.raw, c.hb, c.sig = buf, bytes(hb), bytes(sig)
    c.origin, c.seq, c.hlc, c.nonce, c.root = bytes(origin), seq, hlc, bytes(nonce), bytes(root)
    c.nodes = [bytes(x) for x in nodes]
    c.ops, c.heads = ops, heads
    c.decoded = {}          # place -> dict, for every op in full
    c.withheld = {}         # place -> (type, subject, hash)
    for i, o in enumerate(ops):                                        # 6
        if isbin(o):
            c.decoded[i] = decode_op(bytes(o), c, i, heads[i][1])
        else:
            c.withheld[i] = heads[i]
    check_records(c)                                                   # 7
    return c


def check_records(c):
    """Step 7, across the ops: at most one record per (subject, epoch, creator); no record (14)
    on a subject a registering record of the change makes. The second rule is applied to a
    withheld record (14) too: its redaction carries its subject, and the change holds it."""
    registered = {s for t, s, _ in c.heads if t == REGISTERING}
    seen = {}
    for i, (t, s, _) in enumerate(c.heads):
        if t == RECORD and s in registered:
            raise Bad('KR_EMALFORMED', 'op %d: a record (14) on subject %s, which a registering record of '
                      'the same change makes' % (i, hx(s)))
        if t in (RECORD, REGISTERING) and i in c.decoded:
            op = c.decoded[i]
            k = (s, op['epoch'], op['creator'])
            if k in seen:
                raise Bad('KR_EMALFORMED', 'ops %d and %d: two records of subject %s epoch %d creator %s'
                          % (seen[k], i, hx(s), op['epoch'], hx(op['creator'])))
            seen[k] = i


def text_ok(v, lo=1, hi=None, tabs=False):
    """A clear op's text: 'the text rules above, one line'."""
    if not isstr(v, lo, hi):
        return False
    return not any(ch in '\n\r' or (ch == '\t' and not tabs) or ch in BIDI for ch in v)


def decode_op(ob, c, place, subject):
    """Step 6: one op in full; subject is its second element, or the one derived for a registering record."""
    o = unpack(ob)
    t = o[0]
    if 1 <= t <= 4:
        raise Bad('KR_EUNKNOWN', 'op %d: type %d outside a group' % (place, t))
    if t in GONE:
        raise Bad('KR_EUNKNOWN', 'op %d: type %d, a %s as an op of its own (before records)' % (place, t, GONE[t]))
    if t not in SHAPE:
        raise Bad('KR_EUNKNOWN', 'op %d: type %d' % (place, t))
    if len(o) != SHAPE[t]:
        raise Bad('KR_EMALFORMED', 'op %d: %s of %d elements' % (place, NAMES[t], len(o)))
    r = {'type': t, 'name': NAMES[t], 'subject': subject, 'place': place}

    def need(cond, what, code='KR_EMALFORMED'):
        if not cond:
            raise Bad(code, 'op %d (%s): %s' % (place, NAMES[t], what))

    if t == 5:
        _, s, pur, rc, m, tv = o
        need(ispurpose(pur) and isuint(m) and m <= 3 and isstr(tv, 0, 64), 'fields')
        r.update(purpose=pur, recipient=None if rc is None else c.node(rc, 'withdraw recipient'),
                 recipient_number=rc, method=m, text_version=tv)
    elif t == 6:
        need(isstr(o[2], 1, 1000), 'reason')
        r.update(reason=o[2])
    elif t == 7:
        _, net, org, kind = o
        need(text_ok(org, 1, 100) and kind in KINDS, 'org or kind')
        r.update(network=bytes(net), org=org, kind=kind)
    elif t == 8:
        _, inv, mem, org, kind, ipk, proof = o
        need(isbin(mem, 32) and text_ok(org, 1, 100) and kind in KINDS and isbin(ipk, 32) and isbin(proof, 64), 'fields')
        need(b2(ipk, 16) == inv, 'invite id is not BLAKE2b-128 of invite_pk', 'KR_EBADSIG')
        k = kind.encode()
        msg = b'kring-admit-v2' + bytes(mem) + bytes([len(k)]) + k + org.encode()
        try:
            nb.crypto_sign_open(bytes(proof) + msg, bytes(ipk))
        except Exception:
            need(False, 'proof does not verify', 'KR_EBADSIG')
        r.update(invite=bytes(inv), member=bytes(mem), org=org, kind=kind)
    elif t == 9:
        _, net, mem, after, reason = o
        need(isbin(mem, 32) and isuint(after) and isstr(reason, 1, 1000), 'fields')
        r.update(network=bytes(net), member=bytes(mem), after_seq=after, reason=reason)
    elif t in (RECORD, REGISTERING):
        ep, cr, box, keys = o[-4:]
        need(isuint(ep) and 1 <= ep <= 2**32 - 1, 'epoch %r not from 1 to 2^32 - 1' % (ep,))
        need(box is None or (isbin(box) and len(box) >= 16), 'box neither nil nor a bin of at least 16 bytes')
        need(isinstance(keys, list), 'keys not an array')
        need(len(keys) % 2 == 0, 'keys: an odd number of elements (%d)' % len(keys))
        creator = c.node(cr, 'record creator')
        entries = []
        for i in range(0, len(keys), 2):
            rd, sealed = keys[i], keys[i + 1]
            reader = c.node(rd, 'key entry %d reader' % (i // 2))
            need(isbin(sealed, 48), 'key entry %d: sealed key not a bin(48)' % (i // 2))
            entries.append({'reader': reader, 'number': rd, 'sealed': bytes(sealed)})
        nums = [e['number'] for e in entries]
        need(all(nums[i] < nums[i + 1] for i in range(len(nums) - 1)),
             'readers %s not strictly ascending' % nums, 'KR_ENONCANON')
        need(t == REGISTERING or box is not None or entries, 'neither a box nor a key entry')
        r.update(epoch=ep, creator=creator, creator_number=cr, box=None if box is None else bytes(box),
                 has_box=box is not None, keys=entries, registering=t == REGISTERING)
    elif t == 13:
        _, k, name, desc, tv = o
        need(ispurpose(name) and isstr(desc, 1, 200) and isstr(tv, 0, 64), 'fields')
        need(b2(name.encode(), 16) == k, 'key is not BLAKE2b-128 of the name')
        r.update(purpose=name, description=desc, text_version=tv)
    return r


# ---------------------------------------------------------------- inner ops
SINGLE = {1: 'name', 2: 'email', 3: 'phone', 4: 'postcode', 5: 'city', 6: 'birth_year', 7: 'home_org',
          8: 'notes', 9: 'vog_checked_on', 10: 'vog_checked_by', 11: 'vog_meets_requirements'}
SETS = {32: 'skills', 33: 'languages', 34: 'availability', 35: 'organisations', 36: 'placements'}
BIDI = set('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029')


def field_ok(field, v, hlc):
    """protocol.md "Field rules" for a set/add value (the BSN rule left out)."""
    if v == '' or v != v.strip(' ') or any(ch in BIDI or ch == '\t' or ch == '\r' for ch in v):
        return False
    n = len(v.encode())
    if field == 'notes':
        return n <= 4000 and not v.startswith('\n') and not v.endswith('\n')
    if '\n' in v or n > 200:
        return False
    if field == 'email':
        return n <= 254 and re.match(r"[a-z0-9._%+\-']+@([a-z0-9-]+\.)+[a-z0-9-]+\Z", v) is not None
    if field == 'phone':
        return re.match(r'0[1-9][0-9]{8}\Z', v) is not None
    if field == 'postcode':
        return re.match(r'[1-9][0-9]{3} [A-Z]{2}\Z', v) is not None and v[5:] not in ('SA', 'SD', 'SS')
    if field == 'birth_year':
        year = datetime.datetime.fromtimestamp((hlc >> 16) / 1000, datetime.timezone.utc).year
        return re.match(r'[0-9]{4}\Z', v) is not None and 1900 <= int(v) <= year
    if field == 'vog_checked_on':
        m = re.match(r'([0-9]{4})-([0-9]{2})-([0-9]{2})\Z', v)
        return m is not None and int(m[1]) >= 1900 and 1 <= int(m[2]) <= 12 and 1 <= int(m[3]) <= 31
    if field == 'vog_meets_requirements':
        return v in ('yes', 'no')
    if field == 'availability':
        return re.match(r'(mon|tue|wed|thu|fri|sat|sun)-(am|pm|ev)\Z', v) is not None
    if field in ('skills', 'languages'):
        return v == ''.join(ch.lower() if 'A' <= ch <= 'Z' else ch for ch in v)
    return True


def real_date(v):
    try:
        return re.match(r'[0-9]{4}-[0-9]{2}-[0-9]{2}\Z', v) and datetime.date.fromisoformat(v) is not None
    except ValueError:
        return False


def decode_inner(plain, c):
    """The plaintext of a group: 1-65535 inner ops back to back, each a code then its fields."""
    d = Dec(plain)
    out = []
    if not plain:
        raise Bad('KR_EMALFORMED', 'empty plaintext')
    while d.left():
        code = d.b[d.p]
        if code in (0xcc, 0xcd, 0xce, 0xcf):
            w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}[code]
            v = int.from_bytes(d.b[d.p + 1:d.p + 1 + w], 'big')
            if d.left() > w and v <= 127:
                raise Bad('KR_ENONCANON', 'inner op %d: code %d in a longer form than its fixint' % (len(out), v))
        if code == 0 or code > 127:
            raise Bad('KR_EUNKNOWN', 'inner op %d: code byte %02x' % (len(out), code))
        d.p += 1
        j = len(out)
        if code in SINGLE:
            v = d.value()
            if not (v is None or (isstr(v, 0, 4096) and field_ok(SINGLE[code], v, c.hlc))):
                raise Bad('KR_EVALIDATION', 'inner op %d: set %s %r' % (j, SINGLE[code], v))
            out.append({'op': 'set', 'field': SINGLE[code], 'value': v})
        elif code in SETS:
            v = d.value()
            if not (isstr(v, 1, 4096) and field_ok(SETS[code], v, c.hlc)):
                raise Bad('KR_EVALIDATION', 'inner op %d: add %s %r' % (j, SETS[code], v))
            out.append({'op': 'add', 'field': SETS[code], 'value': v})
        elif code - 64 in SETS:
            v = d.value()
            obs = d.value()
            if not (isstr(v, 1, 4096) and ascending_tags(obs)):
                raise Bad('KR_EMALFORMED', 'inner op %d: remove' % j)
            out.append({'op': 'remove', 'field': SETS[code - 64], 'value': v, 'observed': [bytes(x) for x in obs]})
        elif code == 64:
            pur, rc, m, tv, until, obs = [d.value() for _ in range(6)]
            if rc is None:
                who = None
            elif isuint(rc):
                who = c.node(rc, 'grant recipient')
            elif isbin(rc, 32):
                if bytes(rc) == c.origin or bytes(rc) in c.nodes:
                    raise Bad('KR_ENONCANON', 'inner op %d: grant recipient by id, the table has it' % j)
                who = bytes(rc)
            else:
                raise Bad('KR_EMALFORMED', 'inner op %d: grant recipient' % j)
            if not (ispurpose(pur) and isuint(m) and m <= 3 and isstr(tv, 0, 64) and isinstance(until, str)
                    and (until == '' or real_date(until)) and ascending_tags(obs)):
                raise Bad('KR_EMALFORMED', 'inner op %d: grant fields' % j)
            out.append({'op': 'grant', 'purpose': pur, 'recipient': who, 'method': m, 'text_version': tv,
                        'until': until, 'observed': [bytes(x) for x in obs]})
        else:
            raise Bad('KR_EUNKNOWN', 'inner op %d: code %d' % (j, code))
        out[-1]['tag'] = None   # set by the caller, which knows the place
    if len(out) > 65535:
        raise Bad('KR_EMALFORMED', 'more than 65535 inner ops')
    return out


# ---------------------------------------------------------------- crypto
def aead_nonce(c, place, slot=0):
    return c.nonce + struct.pack('>II', place, slot)


def load_key(path):
    """protocol.md "Node key file": 64 bytes, seed then the public key it makes."""
    k = open(path, 'rb').read()
    if len(k) != 64:
        raise Bad('KEYFILE', '%s: %d bytes, not 64' % (path, len(k)))
    pk, sk = nb.crypto_sign_seed_keypair(k[:32])
    if pk != k[32:]:
        raise Bad('KEYFILE', '%s: the public half is not the one the seed makes' % path)
    return sk


def pair_key(own_sk, other_pk):
    xs = nb.crypto_sign_ed25519_sk_to_curve25519(own_sk)
    xself = nb.crypto_sign_ed25519_pk_to_curve25519(own_sk[32:])
    xo = nb.crypto_sign_ed25519_pk_to_curve25519(other_pk)
    q = nb.crypto_scalarmult(xs, xo)
    lo, hi = sorted([xself, xo])
    return b2(b'kring-pair-1' + q + lo + hi)


def key_ad(network, c, rec, entry):
    """protocol.md "Keys and key entries": the subject, epoch and creator are the record's."""
    return (b'kring-key-3' + network + c.origin + rec['subject'] + struct.pack('>Q', rec['epoch'])
            + rec['creator'] + entry['reader'])


def open_key_entry(c, place, i, network, own_sk):
    """The volunteer's key that key entry i of the record at place seals, if it is sealed to or by
    this node (AEAD nonce: place, slot 1 + i); None if it is not for this node."""
    rec = c.decoded[place]
    e = rec['keys'][i]
    own = own_sk[32:]
    if e['reader'] == own:
        other = c.origin
    elif c.origin == own:
        other = e['reader']
    else:
        return None
    pk = pair_key(own_sk, other)
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(e['sealed'], key_ad(network, c, rec, e),
                                                            aead_nonce(c, place, 1 + i), pk)
    except Exception:
        raise Bad('KR_EBADSIG', 'key entry %d of the record at %d of %s seq %d, sealed to this node, does not open'
                  % (i, place, hx(c.origin), c.seq))


def seal_key_entry(network, c, rec, i, own_sk, vkey):
    """What a writer puts in key entry i of a record (the selftest's and craft's encoder)."""
    e = rec['keys'][i]
    return nb.crypto_aead_xchacha20poly1305_ietf_encrypt(vkey, key_ad(network, c, rec, e),
                                                         aead_nonce(c, rec['place'], 1 + i),
                                                         pair_key(own_sk, e['reader']))


def group_ad(network, c, place, op):
    return (b'kring-group-2' + network + c.origin + struct.pack('>Q', c.seq) + struct.pack('>I', place)
            + op['subject'] + struct.pack('>Q', op['epoch']) + op['creator'])


def open_group(c, place, network, vkey):
    """The plaintext of a record's box (its group), or None when this key does not open it."""
    op = c.decoded[place]
    if op['box'] is None:
        return None
    try:
        return nb.crypto_aead_xchacha20poly1305_ietf_decrypt(op['box'], group_ad(network, c, place, op),
                                                            aead_nonce(c, place, 0), vkey)
    except Exception:
        return None


# ---------------------------------------------------------------- encode
def encode_change(sk, seq, hlc, nonce, nodes, ops):
    """ops: bytes (an op in full) or (type, subject, hash) (withheld). nodes: the table, ascending.
    A registering record's leaf takes its derived subject (a withheld one counts too)."""
    origin = sk[32:]
    leaves = []
    r = 0
    for o in ops:
        if isinstance(o, (bytes, bytearray)):
            try:
                t, s = op_head(o)
            except Bad:         # a malformed op (the selftest's): any leaf, step 4 refuses it first
                t, s = 0, bytes(16)
            h = b2(o)
        else:
            t, s, h = o
        if t == REGISTERING:
            s = s if s is not None else derived_subject(origin, nonce, r)
            r += 1
        leaves.append(leaf(t, s, h))
    root = b2(b'kring-ops-4' + b''.join(leaves))
    hb = pack([4, origin, seq, hlc, nonce, sorted(nodes), root])
    sig = nb.crypto_sign(hb, sk)[:64]
    return pack([hb, sig, [bytes(o) if isinstance(o, (bytes, bytearray)) else [0, o[0], o[1], o[2]] for o in ops]])


def record_bytes(t, subject, epoch, creator_number, box, entries):
    """A record (14) or registering record (15); entries: [(reader number, sealed)]."""
    keys = [x for e in entries for x in (e[0], e[1])]
    if t == REGISTERING:
        return pack([REGISTERING, epoch, creator_number, box, keys])
    return pack([RECORD, subject, epoch, creator_number, box, keys])


# ---------------------------------------------------------------- bundle
MAGIC = b'KRINGBN1'
BUNDLE_VERSION = 3     # protocol.md "Bundle": 3 (the layout's own line still says 2)


def vector_ok(v):
    return (isinstance(v, list) and len(v) <= 4096
            and all(isinstance(e, list) and len(e) == 2 and isbin(e[0], 32) and isuint(e[1]) and e[1] >= 1 for e in v)
            and all(v[i][0] < v[i + 1][0] for i in range(len(v) - 1)))


def read_bundle(path, own_sk):
    """protocol.md "Bundle": the header and the changes' bytes, for this node key."""
    d = open(path, 'rb').read()
    if d[:8] != MAGIC or len(d) < 12:
        raise Bad('KR_EMALFORMED', 'bundle: magic')
    hlen = struct.unpack('>I', d[8:12])[0]
    if hlen > 1 << 20 or 12 + hlen > len(d):
        raise Bad('KR_EMALFORMED', 'bundle: hlen')
    h = unpack(d[12:12 + hlen])
    if not isinstance(h, list) or len(h) != 9:
        raise Bad('KR_EMALFORMED', 'bundle: header')
    ver, network, exporter, created, forn, vector, count, recips, sh = h
    if not isuint(ver) or ver != BUNDLE_VERSION:
        raise Bad('KR_EUNKNOWN', 'bundle version %r' % (ver,))
    if not (isbin(network, 16) and isbin(exporter, 32) and isuint(created) and (forn is None or isbin(forn, 32))
            and vector_ok(vector) and isuint(count) and isbin(sh, 24) and isinstance(recips, list)
            and 1 <= len(recips) <= 4096
            and all(isinstance(r, list) and len(r) == 2 and isbin(r[0], 32) and isbin(r[1], 80) for r in recips)
            and all(recips[i][0] < recips[i + 1][0] for i in range(len(recips) - 1))):
        raise Bad('KR_EMALFORMED', 'bundle: header fields')
    own = own_sk[32:]
    xpk = nb.crypto_sign_ed25519_pk_to_curve25519(own)
    xsk = nb.crypto_sign_ed25519_sk_to_curve25519(own_sk)
    fk = None
    for node, sealed in recips:
        if node == own:
            fk = nb.crypto_box_seal_open(bytes(sealed), xpk, xsk)
    if fk is None:
        raise Bad('KR_EMALFORMED', 'bundle: no sealed key for this node')
    ad = b2(d[:12 + hlen])
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(st, bytes(sh), fk)
    p = 12 + hlen
    body = b''
    final = False
    while True:
        if p + 4 > len(d):
            raise Bad('KR_EMALFORMED', 'bundle: truncated')
        clen = struct.unpack('>I', d[p:p + 4])[0]
        p += 4
        if clen == 0:
            break
        if final:
            raise Bad('KR_EMALFORMED', 'bundle: a chunk after FINAL')
        if not (17 <= clen <= (2 << 20) + 17) or p + clen > len(d):
            raise Bad('KR_EMALFORMED', 'bundle: chunk length %d' % clen)
        try:
            m, tag = nb.crypto_secretstream_xchacha20poly1305_pull(st, d[p:p + clen], ad)
        except Exception:
            raise Bad('KR_EBADSIG', 'bundle: a chunk does not authenticate')
        p += clen
        body += m
        if tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            final = True
        elif tag != nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE:
            raise Bad('KR_EMALFORMED', 'bundle: chunk tag %d' % tag)
    if not final:
        raise Bad('KR_EMALFORMED', 'bundle: no FINAL chunk')
    if len(d) != p + 64:
        raise Bad('KR_EMALFORMED', 'bundle: %d bytes after the end marker, not 64' % (len(d) - p))
    try:
        nb.crypto_sign_open(d[p:p + 64] + b'kring-bundle-v1' + b2(d[:p], 64), bytes(exporter))
    except Exception:
        raise Bad('KR_EBADSIG', 'bundle: signature')
    changes = []
    q = 0
    while q < len(body):
        if q + 4 > len(body):
            raise Bad('KR_EMALFORMED', 'bundle: a change cut short')
        n = struct.unpack('>I', body[q:q + 4])[0]
        if not (1 <= n <= CHANGE_MAX) or q + 4 + n > len(body):
            raise Bad('KR_EMALFORMED', 'bundle: change length %d' % n)
        changes.append(body[q + 4:q + 4 + n])
        q += 4 + n
    if len(changes) != count:
        raise Bad('KR_EMALFORMED', 'bundle: %d changes, count says %d' % (len(changes), count))
    return dict(network=bytes(network), exporter=bytes(exporter), created=created,
                forn=None if forn is None else bytes(forn), vector=vector, count=count,
                recipients=[bytes(r[0]) for r in recips]), changes


def write_bundle(path, exp_sk, network, members, changes, vector=None, created_ms=0, forn=None):
    exporter = exp_sk[32:]
    fk = nb.crypto_secretstream_xchacha20poly1305_keygen()
    recips = [[m, nb.crypto_box_seal(fk, nb.crypto_sign_ed25519_pk_to_curve25519(m))] for m in sorted(set(members))]
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    sh = nb.crypto_secretstream_xchacha20poly1305_init_push(st, fk)
    hdr = pack([BUNDLE_VERSION, network, exporter, created_ms, forn, vector or [], len(changes), recips, sh])
    pre = MAGIC + struct.pack('>I', len(hdr)) + hdr
    ad = b2(pre)
    body = b''.join(struct.pack('>I', len(c)) + c for c in changes)
    ct = nb.crypto_secretstream_xchacha20poly1305_push(st, body, ad, nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
    out = pre + struct.pack('>I', len(ct)) + ct + struct.pack('>I', 0)
    sig = nb.crypto_sign(b'kring-bundle-v1' + b2(out, 64), exp_sk)[:64]
    open(path, 'wb').write(out + sig)


# ---------------------------------------------------------------- read a bundle
def hx(b):
    return bytes(b).hex()[:12]


def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items() if k not in ('box', 'sealed')}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def writer_rules(c):
    """What protocol.md asks of a writer, checked on what kring wrote; a list of breaches.
    - "Node numbers": a writer lists in nodes exactly the nodes the clear fields of its
      change name (a record's creator, its key entries' readers, a withdrawal's recipient),
      other than the origin; only checkable when no op is withheld.
    - "Records": a writer puts a volunteer's key-only records before the record with its box."""
    bad = []
    if not c.withheld:
        named = set()
        for op in c.decoded.values():
            if op['type'] in (RECORD, REGISTERING):
                named.add(op['creator_number'])
                named.update(e['number'] for e in op['keys'])
            elif op['type'] == WITHDRAW and op['recipient_number'] is not None:
                named.add(op['recipient_number'])
        named.discard(0)
        if named != set(range(1, len(c.nodes) + 1)):
            bad.append('node table of %d: the clear fields name %s' % (len(c.nodes), sorted(named)))
    boxed = {}
    for i in sorted(c.decoded):
        op = c.decoded[i]
        if op['type'] in (RECORD, REGISTERING):
            if op['has_box']:
                boxed.setdefault(op['subject'], i)
            elif op['subject'] in boxed:
                bad.append('the key-only record at %d after the record with the box at %d (subject %s)'
                           % (i, boxed[op['subject']], hx(op['subject'])))
    return ['%s seq %d: %s' % (hx(c.origin), c.seq, b) for b in bad]


def read(bundle, keyfile, out=sys.stdout):
    """Verify every change of the bundle and open what this node may read.
    Returns (report, failures)."""
    sk = load_key(keyfile)
    own = sk[32:]
    info, raw = read_bundle(bundle, sk)
    net = info['network']
    fails = []
    print('bundle network %s exporter %s for %s: %d changes' % (net.hex(), hx(info['exporter']),
          hx(info['forn']) if info['forn'] else 'all', info['count']), file=out)
    changes = []
    for n, b in enumerate(raw):
        try:
            c = decode_change(b)
            c.index = n
            changes.append(c)
        except Bad as e:
            fails.append('change %d: %s' % (n, e))
            print('FAIL change %d: %s' % (n, e), file=out)
    keys = {}       # (subject, epoch, creator) -> [volunteer keys]
    report = {'network': net, 'exporter': info['exporter'], 'for': info['forn'], 'node': own, 'changes': []}
    for c in changes:
        rc = {'index': c.index, 'origin': c.origin, 'seq': c.seq, 'hlc': c.hlc, 'nodes': c.nodes,
              'verified': True, 'ops': []}
        report['changes'].append(rc)
        print('change %d: %s seq %d hlc %d: %d ops, %d nodes in the table, verified' % (
              c.index, hx(c.origin), c.seq, c.hlc, len(c.ops), len(c.nodes)), file=out)
        for b in writer_rules(c):
            fails.append('writer: ' + b)
            print('FAIL writer:', b, file=out)
        for i in range(len(c.ops)):
            if i in c.withheld:
                t, s, hh = c.withheld[i]
                rc['ops'].append({'place': i, 'type': t, 'name': NAMES[t], 'subject': s, 'withheld': True, 'hash': hh})
                print('  %d withheld %s subject %s' % (i, NAMES[t], hx(s)), file=out)
                continue
            op = dict(c.decoded[i])
            op['tag'] = c.tag(i)
            rc['ops'].append(op)
            if op['type'] in (RECORD, REGISTERING):
                # the parts in the doc's order: the registration, the key entries, then the box
                # (boxes are opened below, once every change's key entries are read)
                op['keys'] = [dict(e) for e in op['keys']]
                for k, e in enumerate(op['keys']):
                    try:
                        vk = open_key_entry(c, i, k, net, sk)
                    except Bad as ex:
                        fails.append(str(ex))
                        print('FAIL', ex, file=out)
                        e['opened'] = False
                        continue
                    e['opened'] = vk is not None
                    if vk is not None:
                        keys.setdefault((op['subject'], op['epoch'], op['creator']), []).append(vk)
                print('  %d %s subject %s epoch %d creator %s: %s, key entries to %s' % (
                      i, op['name'], hx(op['subject']), op['epoch'], hx(op['creator']),
                      'a box of %d bytes' % len(op['box']) if op['has_box'] else 'no box',
                      ', '.join('%d %s%s' % (e['number'], hx(e['reader']), ' (opened)' if e['opened'] else '')
                                for e in op['keys']) or 'nobody'), file=out)
            else:
                print('  %d %s %s' % (i, op['name'], json.dumps(jsonable({k: v for k, v in op.items()
                      if k not in ('type', 'name', 'place', 'tag')}))), file=out)
    # groups, once every key entry is read (a key may come in a later change)
    for c, rc in zip(changes, report['changes']):
        for op in rc['ops']:
            if op.get('type') not in (RECORD, REGISTERING) or op.get('withheld') or not op['has_box']:
                continue
            ks = keys.get((op['subject'], op['epoch'], op['creator']), [])
            plain = None
            for k in ks:
                plain = open_group(c, op['place'], net, k)
                if plain is not None:
                    break
            if not ks:
                op['opened'] = False
                continue
            if plain is None:
                op['opened'] = False
                fails.append('group %d of %s seq %d: no key of its epoch opens it' % (op['place'], hx(c.origin), c.seq))
                print('FAIL', fails[-1], file=out)
                continue
            try:
                inner = decode_inner(plain, c)
            except Bad as e:
                op['opened'] = False
                fails.append('group %d of %s seq %d: %s' % (op['place'], hx(c.origin), c.seq, e))
                print('FAIL', fails[-1], file=out)
                continue
            for j, io in enumerate(inner):
                io['tag'] = c.tag(op['place'], j)
            op['opened'] = True
            op['inner'] = inner
            print('group %s seq %d place %d subject %s: %s' % (hx(c.origin), c.seq, op['place'], hx(op['subject']),
                  '; '.join('%s %s' % (io['op'], json.dumps(jsonable({k: v for k, v in io.items()
                            if k not in ('op', 'tag', 'observed')}))) for io in inner)), file=out)
    report['failures'] = fails
    return report, fails


# ---------------------------------------------------------------- tools
def op_spans(buf):
    """(start, end) of each op's bytes in a change: a bin's content, or a redaction's array."""
    d = Dec(buf)
    d.array_header()
    d.value(); d.value()
    spans = []
    for _ in range(d.array_header()):
        start = d.p
        v = d.value()
        spans.append((d.p - len(v), d.p) if isbin(v) else (start, d.p))
    return spans


def flip(buf, place=None):
    """The change with the last byte of op place (default: the last op in full) flipped."""
    c = decode_change(buf)
    place = max(c.decoded) if place is None else place
    if place not in c.decoded:
        raise Bad('USAGE', 'op %d is not in full' % place)
    out = bytearray(buf)
    out[op_spans(buf)[place][1] - 1] ^= 0x01
    return bytes(out)


def parts(c):
    """A decoded change's ops as encode_change takes them."""
    return [bytes(o) if isbin(o) else (o[1], bytes(o[2]), bytes(o[3])) for o in c.ops]


JUNK = bytes([0x6b]) * 48          # a sealed key that opens for nobody


CRAFTS = {
    'same': 'unchanged: this implementation re-makes the very bytes (accepted)',
    'valid': 'the first registering record R given key entries to nodes 0 and NODE (added to the table), '
             'then key-only records (14) on SUBJECT, epoch 1 and epoch 2 of the origin, one key entry to '
             'NODE each (sealed keys that open for nobody); every kind below is this with one thing '
             'changed (accepted)',
    'reader-twice': "R's readers NODE, NODE (KR_ENONCANON)",
    'readers-descending': "R's readers NODE, 0 (KR_ENONCANON)",
    'odd-keys': "R's keys 0, sealed, NODE (KR_EMALFORMED)",
    'reader-not-in-table': "the second record on SUBJECT's reader NODE + 1 (KR_EMALFORMED)",
    'record-on-registered': "the second record on R's subject, not SUBJECT (KR_EMALFORMED)",
    'dup-record': 'the second record on SUBJECT of epoch 1, as the first (KR_EMALFORMED)',
    'no-box-no-key': 'the second record on SUBJECT without its key entry (KR_EMALFORMED)',
    'key-op': 'the second record on SUBJECT a key op of its own instead (type 11, before records; KR_EUNKNOWN)',
}


def craft(buf, sk, kind, subject=None, node=None):
    """The change re-made by encode_change and re-signed with sk (its origin's key), made over as
    kind says (CRAFTS). Returns (bytes, the refusal code protocol.md gives it, or None)."""
    c = decode_change(buf)
    if sk[32:] != c.origin:
        raise Bad('USAGE', 'the key is not the origin\'s')
    if kind not in CRAFTS:
        raise Bad('USAGE', 'craft kind %r' % kind)
    ops = parts(c)
    if kind == 'same':
        return encode_change(sk, c.seq, c.hlc, c.nonce, c.nodes, ops), None
    if subject is None or node is None or len(subject) != 16 or len(node) != 32 or node == c.origin:
        raise Bad('USAGE', 'craft %s wants a subject (16 bytes) and a node other than the origin' % kind)
    regs = [i for i in sorted(c.decoded) if c.decoded[i]['type'] == REGISTERING]
    if not regs:
        raise Bad('USAGE', 'no registering record in full')
    nodes = sorted(set(c.nodes) | {node})
    if nodes[:len(c.nodes)] != c.nodes:
        raise Bad('USAGE', 'adding the node would renumber the table')
    n = nodes.index(node) + 1
    R = c.decoded[regs[0]]

    def reg(keys):
        return pack([REGISTERING, R['epoch'], R['creator_number'], R['box'], keys])
    r_keys = {'reader-twice': [n, JUNK, n, JUNK], 'readers-descending': [n, JUNK, 0, JUNK],
              'odd-keys': [0, JUNK, n]}.get(kind, [0, JUNK, n, JUNK])
    second = {'reader-not-in-table': record_bytes(RECORD, subject, 2, 0, None, [(len(nodes) + 1, JUNK)]),
              'record-on-registered': record_bytes(RECORD, R['subject'], 2, 0, None, [(n, JUNK)]),
              'dup-record': record_bytes(RECORD, subject, 1, 0, None, [(n, JUNK)]),
              'no-box-no-key': record_bytes(RECORD, subject, 2, 0, None, []),
              'key-op': pack([11, subject, 2, 0, n, JUNK])}.get(kind, record_bytes(RECORD, subject, 2, 0, None, [(n, JUNK)]))
    ops[regs[0]] = reg(r_keys)
    ops[regs[0] + 1:regs[0] + 1] = [record_bytes(RECORD, subject, 1, 0, None, [(n, JUNK)]), second]
    code = None if kind == 'valid' else CRAFTS[kind].rpartition('(')[2].split(')')[0].split('; ')[-1]
    return encode_change(sk, c.seq, c.hlc, c.nonce, nodes, ops), code


REFUSED = []


def refused(buf, code, what):
    try:
        decode_change(buf)
    except Bad as e:
        assert e.code == code, '%s: refused as %s, not %s' % (what, e, code)
        REFUSED.append(what)
        return e
    raise AssertionError('%s: accepted' % what)


def selftest():
    # protocol.md, "purpose": the key of "photos"
    assert b2(b'photos', 16).hex() == '2f108dcfafdb0c154e26fe06733dd8a4', b2(b'photos', 16).hex()
    # protocol.md, "Example": a record (14) of a set of the name Anna
    pk, sk = nb.crypto_sign_seed_keypair(bytes(range(32)))           # node K
    bpk, bsk = nb.crypto_sign_seed_keypair(bytes(range(32, 64)))     # node B
    cpk, csk = nb.crypto_sign_seed_keypair(bytes(range(64, 96)))     # node C, a third
    net, nonce, vkey = bytes(range(50, 66)), bytes(range(100, 116)), bytes(range(200, 232))
    plain = bytes.fromhex('01a4416e6e61')
    x22 = bytes(22)
    rec = record_bytes(RECORD, bytes(range(16)), 1, 0, x22, [])
    assert rec == bytes.fromhex('960ec410') + bytes(range(16)) + bytes.fromhex('0100c416') + x22 + b'\x90', rec.hex()
    # a new volunteer's first change: one registering record, its key sealed to B (node number 1)
    S = b2(pk + nonce + b'\x00\x00\x00\x00', 16)
    assert derived_subject(pk, nonce, 0) == S
    hlc = (1767225600000 << 16) | 1

    Pre = types.SimpleNamespace(origin=pk, nonce=nonce, seq=1)   # what the ADs and nonces need
    hd = {'subject': S, 'epoch': 1, 'creator': pk, 'place': 0, 'keys': [{'reader': bpk}]}
    box = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, group_ad(net, Pre, 0, hd), nonce + bytes(8), vkey)
    sealed = seal_key_entry(net, Pre, hd, 0, sk, vkey)
    assert len(box) == 22 and len(sealed) == 48
    reg = record_bytes(REGISTERING, None, 1, 0, box, [(1, sealed)])
    assert reg == bytes.fromhex('950f0100c416') + box + bytes.fromhex('9201c430') + sealed, reg.hex()
    ch = encode_change(sk, 1, hlc, nonce, [bpk], [reg])
    c = decode_change(ch)
    H0 = b2(reg)
    root = b2(b'kring-ops-4' + b2(b'\x0f' + S + H0))
    assert c.hb == (b'\x97\x04\xc4\x20' + pk + b'\x01\xcf' + hlc.to_bytes(8, 'big') + b'\xc4\x10' + nonce
                    + b'\x91\xc4\x20' + bpk + b'\xc4\x20' + root), c.hb.hex()
    assert c.heads == [(15, S, H0)] and c.decoded[0]['subject'] == S and c.decoded[0]['keys'][0]['reader'] == bpk
    assert writer_rules(c) == []
    # B opens its key entry (slot 1), K (the sender) too, C not; the key opens the box (slot 0)
    assert open_key_entry(c, 0, 0, net, bsk) == vkey and open_key_entry(c, 0, 0, net, sk) == vkey
    assert open_key_entry(c, 0, 0, net, csk) is None
    assert open_group(c, 0, net, vkey) == plain
    assert decode_inner(plain, c) == [{'op': 'set', 'field': 'name', 'value': 'Anna', 'tag': None}]
    # sealed at another slot, the key entry does not open; nor a box at another place
    wrong = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(vkey, key_ad(net, Pre, hd, hd['keys'][0]),
                                                          nonce + struct.pack('>II', 0, 0), pair_key(sk, bpk))
    c2 = decode_change(encode_change(sk, 1, hlc, nonce, [bpk], [record_bytes(REGISTERING, None, 1, 0, box, [(1, wrong)])]))
    refused_open = False
    try:
        open_key_entry(c2, 0, 0, net, bsk)
    except Bad:
        refused_open = True
    assert refused_open, 'a key entry sealed at slot 0 opened'
    c3 = decode_change(encode_change(sk, 1, hlc, nonce, [bpk], [record_bytes(REGISTERING, None, 1, 0, None, []), reg]))
    assert open_group(c3, 1, net, vkey) is None and c3.heads[1][1] == derived_subject(pk, nonce, 1)

    # the registering record withheld: the change still verifies, as the same type and derived subject only
    red = encode_change(sk, 1, hlc, nonce, [bpk], [(15, S, H0)])
    assert red == ch[:op_spans(ch)[0][0] - 2] + pack([0, 15, S, H0])
    assert decode_change(red).withheld == {0: (15, S, H0)}
    refused(encode_change(sk, 1, hlc, nonce, [bpk], [(15, bytes(16), H0)]), 'KR_EMALFORMED',
            'a registering record withheld under another subject')
    refused(ch[:op_spans(ch)[0][0] - 2] + pack([0, 14, S, H0]), 'KR_EBADHASH', 'withheld as a record (14)')
    for t in (6, 7, 10, 11, 12, 13):
        refused(encode_change(sk, 1, hlc, nonce, [bpk], [(t, S, H0)]), 'KR_EMALFORMED', 'a redaction of type %d' % t)
    # a withheld registering record counts in the derivation of those after it
    c4 = decode_change(encode_change(sk, 1, hlc, nonce, [bpk], [(15, S, H0), reg]))
    assert c4.decoded[1]['subject'] == derived_subject(pk, nonce, 1) != S
    refused(encode_change(sk, 1, hlc, nonce, [bpk], [(15, derived_subject(pk, nonce, 1), H0), reg]), 'KR_EMALFORMED',
            'the first registering record withheld under the second\'s subject')
    c5 = decode_change(encode_change(sk, 1, hlc, nonce, [bpk], [(5, S, H0), (14, bytes(16), H0), reg]))
    assert c5.decoded[2]['subject'] == S           # withheld ops of other types do not count

    # the rules of a record
    X = bytes(range(16, 32))
    def chg(*ops, nodes=(bpk,)):
        return encode_change(sk, 1, hlc, nonce, list(nodes), list(ops))
    e1 = (1, sealed)
    ok = [chg(record_bytes(REGISTERING, None, 1, 0, None, [])),                   # a bare registration
          chg(record_bytes(RECORD, X, 1, 0, None, [e1])),                          # keys only
          chg(record_bytes(RECORD, X, 1, 0, x22[:16], [])),                        # a box only, 16 bytes
          chg(record_bytes(RECORD, X, 1, 0, None, [(0, sealed), e1])),             # readers 0 < 1
          chg(record_bytes(RECORD, X, 1, 0, None, [e1]), record_bytes(RECORD, X, 2, 0, box, [])),
          chg(record_bytes(RECORD, X, 1, 0, None, [e1]), record_bytes(RECORD, X, 1, 1, box, [])),
          chg(reg, record_bytes(REGISTERING, None, 1, 0, box, [])),                 # two volunteers
          chg(reg, record_bytes(RECORD, X, 1, 0, box, [])),
          chg(record_bytes(RECORD, X, 2**32 - 1, 0, box, [e1]))]
    for n, b in enumerate(ok):
        decode_change(b)
    bad = [('KR_ENONCANON', 'readers descending', chg(record_bytes(RECORD, X, 1, 0, None, [e1, (0, sealed)]))),
           ('KR_ENONCANON', 'a reader twice', chg(record_bytes(REGISTERING, None, 1, 0, box, [e1, e1]))),
           ('KR_EMALFORMED', 'odd keys', chg(pack([14, X, 1, 0, None, [1, sealed, 0]]))),
           ('KR_EMALFORMED', 'a reader not in the table', chg(record_bytes(RECORD, X, 1, 0, None, [(2, sealed)]))),
           ('KR_EMALFORMED', 'a creator not in the table', chg(record_bytes(RECORD, X, 1, 2, box, []))),
           ('KR_EMALFORMED', 'a sealed key of 47 bytes', chg(record_bytes(RECORD, X, 1, 0, None, [(1, sealed[:47])]))),
           ('KR_EMALFORMED', 'a reader as an id', chg(pack([14, X, 1, 0, None, [bpk, sealed]]))),
           ('KR_EMALFORMED', 'a box of 15 bytes', chg(record_bytes(RECORD, X, 1, 0, x22[:15], [e1]))),
           ('KR_EMALFORMED', 'a box of 15 bytes (15)', chg(record_bytes(REGISTERING, None, 1, 0, x22[:15], []))),
           ('KR_EMALFORMED', 'a record (14) with neither', chg(record_bytes(RECORD, X, 1, 0, None, []))),
           ('KR_EMALFORMED', 'epoch 0', chg(record_bytes(RECORD, X, 0, 0, box, []))),
           ('KR_EMALFORMED', 'epoch 2^32', chg(record_bytes(REGISTERING, None, 2**32, 0, box, []))),
           ('KR_EMALFORMED', 'a record of 5 elements', chg(pack([14, X, 1, 0, box]))),
           ('KR_EMALFORMED', 'a registering record of 6', chg(pack([15, X, 1, 0, box, []]))),
           ('KR_EMALFORMED', 'a registering record of 1', chg(pack([15]))),
           ('KR_EMALFORMED', 'keys not an array', chg(pack([15, 1, 0, box, None]))),
           ('KR_EMALFORMED', 'two records of one (subject, epoch, creator)',
            chg(record_bytes(RECORD, X, 1, 0, None, [e1]), record_bytes(RECORD, X, 1, 0, box, []))),
           ('KR_EMALFORMED', 'a record (14) on the subject registered',
            chg(reg, record_bytes(RECORD, S, 2, 0, None, [e1]))),
           ('KR_EMALFORMED', 'a record (14) before the registering record of its subject',
            chg(record_bytes(RECORD, S, 2, 0, None, [e1]), reg)),
           ('KR_EMALFORMED', 'a withheld record (14) on the subject registered', chg(reg, (14, S, H0))),
           ('KR_EUNKNOWN', 'a group of its own (10)', chg(pack([10, X, 1, 0, box]))),
           ('KR_EUNKNOWN', 'a key op of its own (11)', chg(pack([11, X, 1, 0, 1, sealed]))),
           ('KR_EUNKNOWN', 'a registration of its own (12)', chg(pack([12, X, bytes(16)]))),
           ('KR_EUNKNOWN', 'a set (1) as an op of its own', chg(pack([1, X, 1, 'Anna']))),
           ('KR_EUNKNOWN', 'type 16', chg(pack([16, X]))),
           ('KR_ENONCANON', 'the node table descending', chg(record_bytes(RECORD, X, 1, 0, box, []),
                                                            nodes=sorted([bpk, cpk])[::-1]))]
    for code, what, b in bad:
        if what == 'the node table descending':       # encode_change sorts the table: make it by hand
            d = unpack(b)
            h = unpack(d[0])
            h[5] = sorted([bpk, cpk])[::-1]
            hb = pack(h)
            b = pack([hb, nb.crypto_sign(hb, sk)[:64], d[2]])
        refused(b, code, what)
    # the writer's rules kr4 checks on what kring writes
    assert writer_rules(decode_change(chg(record_bytes(RECORD, X, 1, 0, box, []),
                                          record_bytes(RECORD, X, 2, 0, None, [e1])))), 'a key-only record after the box'
    assert writer_rules(decode_change(chg(record_bytes(RECORD, X, 1, 0, box, [])))), 'a table entry no field names'
    # an inner op's code in a longer form than its fixint
    try:
        decode_inner(b'\xcc\x01\xa4Anna', c)
        raise AssertionError('code cc 01 accepted')
    except Bad as e:
        assert e.code == 'KR_ENONCANON', e
    # craft: 'same' re-makes the very bytes, 'valid' is accepted, each other kind refused as it says
    assert craft(ch, sk, 'same') == (ch, None)
    bare = encode_change(sk, 1, hlc, nonce, [], [record_bytes(REGISTERING, None, 1, 0, box, [])])
    for base in (ch, bare):
        b, code = craft(base, sk, 'valid', X, bpk)
        v = decode_change(b)
        assert code is None and writer_rules(v) == [] and v.nodes == [bpk] and len(v.ops) == 3
        for kind in CRAFTS:
            if kind not in ('same', 'valid'):
                b, code = craft(base, sk, kind, X, bpk)
                refused(b, code, 'craft ' + kind)
    print('selftest: ok (%d changes refused as the doc says, %d accepted)' % (len(REFUSED), len(ok) + 8))


def main(argv):
    if len(argv) >= 3 and argv[1] == 'read':
        report, fails = read(argv[2], argv[3])
        if len(argv) == 6 and argv[4] == '--json':
            with open(argv[5], 'w') as f:
                json.dump(jsonable(report), f, indent=1)
        if fails:
            print('kr4: %d failures' % len(fails), file=sys.stderr)
            return 1
        print('kr4: every change verified, %d changes' % len(report['changes']))
        return 0
    if len(argv) == 5 and argv[1] == 'changes':
        _, raw = read_bundle(argv[2], load_key(argv[3]))
        for n, b in enumerate(raw):
            with open(os.path.join(argv[4], '%04d.chg' % n), 'wb') as f:
                f.write(b)
        return 0
    if len(argv) == 3 and argv[1] == 'change':
        try:
            c = decode_change(open(argv[2], 'rb').read())
        except Bad as e:
            print('refused: %s' % e)
            return 1
        print('verified: %s seq %d, %d ops (%d withheld)' % (hx(c.origin), c.seq, len(c.ops), len(c.withheld)))
        return 0
    if len(argv) in (4, 5) and argv[1] == 'flip':
        buf = flip(open(argv[2], 'rb').read(), int(argv[4]) if len(argv) == 5 else None)
        open(argv[3], 'wb').write(buf)
        return 0
    if len(argv) in (6, 8) and argv[1] == 'craft':
        if argv[5] == 'list':
            for k, v in CRAFTS.items():
                print('%-20s %s' % (k, v))
            return 0
        extra = [bytes.fromhex(x) for x in argv[6:8]]
        buf, code = craft(open(argv[2], 'rb').read(), load_key(argv[3]), argv[5], *extra)
        open(argv[4], 'wb').write(buf)
        print('crafted %s: %s' % (argv[5], 'a decoder refuses it (%s)' % code if code else 'it stands'))
        return 0
    if len(argv) in (6, 7, 8, 10) and argv[1] == 'rebundle':
        info, raw = read_bundle(argv[2], load_key(argv[3]))
        exp = load_key(argv[4])
        if len(argv) >= 7:
            n = int(argv[6])
            kind = argv[7] if len(argv) >= 8 else 'flip'
            extra = [bytes.fromhex(x) for x in argv[8:10]]
            raw[n] = flip(raw[n]) if kind == 'flip' else craft(raw[n], exp, kind, *extra)[0]
        write_bundle(argv[5], exp, info['network'], info['recipients'], raw,
                     info['vector'], info['created'], info['forn'])
        return 0
    if len(argv) == 2 and argv[1] == 'selftest':
        selftest()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv))
    except Bad as e:
        print('kr4: refused: %s' % e, file=sys.stderr)
        sys.exit(1)
