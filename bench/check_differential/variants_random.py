"""Random variants of a workbook for the differential check of `kofu-xl check` (see compare.sh):
each variant edits the sheets' XML directly (formulas typed over, respelled, re-escaped, in
CDATA, with line ends, prefixed, shared, self-closing; error cells; rows and cells moved, dropped,
duplicated; 日次実績 edited). Usage: variants_random.py FIRST COUNT [SOURCE [PREFIX]]: prints
each variant's path and its edits."""
import html
import os
import random
import re
import sys
import zipfile

SRC = os.path.join(os.path.dirname(__file__), '..', '..', 'workbook', '交付円滑化計画.xlsm')
OUT = os.path.join(os.environ.get('KOFU_DIFF_OUT', '/tmp/kofu-diff'), 'var')
os.makedirs(OUT, exist_ok=True)

def load(path):
    z = zipfile.ZipFile(path)
    return [(i, z.read(i.filename)) for i in z.infolist()]

def save(items, name):
    p = os.path.join(OUT, name)
    with zipfile.ZipFile(p, 'w', zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            z.writestr(info.filename, data)
    return p

SHEETS = {1: '本表1-1', 2: '本表1-2', 3: '経費積算', 4: '日次実績', 5: '実績比較', 6: '国基準'}
FCELL = re.compile(rb'<c r="([A-Z]+\d+)"([^<>]*)><f>([^<]*)</f>(<v>[^<]*</v>)?</c>')
VCELL = re.compile(rb'<c r="([A-Z]+\d+)"([^<>]*?)(?: t="n")?>(<v>[^<]*</v>)?</c>')

def pick(rng, pat, data, k=1):
    ms = list(pat.finditer(data))
    if not ms: return []
    return sorted(rng.sample(ms, min(k, len(ms))), key=lambda m: -m.start())

def sub_at(data, m, new):
    return data[:m.start()] + new + data[m.end():]

def decode(t):
    return html.unescape(t.decode())

def enc_ref(s):  # as the build: non-ascii to decimal refs
    return ''.join(c if ord(c) < 128 else f'&#{ord(c)};' for c in s).replace('&', '&amp;') if False else ''.join(c if ord(c) < 128 else f'&#{ord(c)};' for c in html.escape(s, quote=False))

# mutations: (data bytes of a sheet, rng) -> bytes
def m_typeover(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 3)):
        d = sub_at(d, m, b'<c r="%s"%s><v>%d</v></c>' % (m[1], m[2], rng.randint(0, 99999)))
    return d
def m_typeover_text(d, rng):
    for m in pick(rng, FCELL, d):
        d = sub_at(d, m, b'<c r="%s" t="inlineStr"><is><t>abc</t></is></c>' % m[1])
    return d
def m_other_formula(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 2)):
        d = sub_at(d, m, b'<c r="%s"%s><f>%s</f><v>1</v></c>' % (m[1], m[2], rng.choice([b'1+1', b'SUM(A1:A2)', m[3] + b'+0', b'E8', b'&quot;x&quot;'])))
    return d
def respell(t, rng):
    s = decode(t)
    k = rng.choice(['space', 'lower', 'dollar', 'eq', 'xlfn', 'spaces2', 'upper'])
    if k == 'space': s = s.replace(',', ', ')
    elif k == 'spaces2': s = ' ' + s.replace('(', '( ') + ' '
    elif k == 'lower': s = s.lower()
    elif k == 'upper': s = s.upper()
    elif k == 'dollar': s = re.sub(r'(?<![A-Z$!])([A-Z]{1,2})(\d+)', r'$\1$\2', s)
    elif k == 'eq': s = '=' + s
    elif k == 'xlfn': s = re.sub(r'\b(IFERROR|ISNA|SUM|ROUND|IF)\(', r'_xlfn.\1(', s)
    return enc_ref(s).encode()
def m_respell(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 20)):
        d = sub_at(d, m, b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], respell(m[3], rng), m[4] or b''))
    return d
def m_respell_all(d, rng):
    k = rng.choice(['lower', 'space'])
    def f(m):
        s = decode(m[3]); s = s.lower() if k == 'lower' else s.replace(',', ' , ')
        return b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], enc_ref(s).encode(), m[4] or b'')
    return FCELL.sub(f, d)
def m_entities(d, rng):
    style = rng.choice(['raw', 'hex', 'quot', 'amp', 'apos', 'gt', 'mixed'])
    def f(m):
        s = decode(m[3])
        if style == 'raw': t = html.escape(s, quote=False)
        elif style == 'hex': t = ''.join(c if ord(c) < 128 else f'&#x{ord(c):X};' for c in html.escape(s, quote=False))
        elif style == 'quot': t = enc_ref(s).replace('"', '&quot;')
        elif style == 'amp': t = enc_ref(s).replace('"', '&#34;').replace(',', '&#44;')
        elif style == 'apos': t = enc_ref(s).replace("'", '&apos;')
        elif style == 'gt': t = enc_ref(s).replace('=', '&#61;').replace('>', '&gt;')
        else: t = ''.join(c if (ord(c) < 128 and rng.random() < .7) else f'&#{ord(c)};' for c in s).replace('&#38;', '&amp;') if '&' not in s and '<' not in s else enc_ref(s)
        return b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], t.encode(), m[4] or b'')
    if rng.random() < .5: return FCELL.sub(f, d)
    for m in pick(rng, FCELL, d, 10): d = sub_at(d, m, f(m))
    return d
def m_cdata(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 5)):
        d = sub_at(d, m, b'<c r="%s"%s><f><![CDATA[%s]]></f>%s</c>' % (m[1], m[2], decode(m[3]).encode(), m[4] or b''))
    return d
def m_ws(d, rng):
    ws = rng.choice([b'\r\n', b'\n', b'\t', b'\r', b'&#13;', b'&#10;', b'&#9;', b'&#13;&#10;', b' \n'])
    for m in pick(rng, FCELL, d, rng.randint(1, 5)):
        t = m[3]; i = t.find(b',')
        if i < 0: i = len(t) // 2
        t = rng.choice([t[:i] + ws + t[i:], ws + t, t + ws])
        d = sub_at(d, m, b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], t, m[4] or b''))
    return d
def m_prefix(d, rng):
    d = d.replace(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1)
    if rng.random() < .5:
        for m in pick(rng, FCELL, d, rng.randint(1, 5)):
            d = sub_at(d, m, b'<x:c r="%s"%s><x:f>%s</x:f>%s</x:c>' % (m[1], m[2], m[3], (m[4] or b'').replace(b'<v>', b'<x:v>').replace(b'</v>', b'</x:v>')))
    else:
        for m in pick(rng, FCELL, d, rng.randint(1, 5)):
            d = sub_at(d, m, b'<c r="%s"%s><x:f>%s</x:f>%s</c>' % (m[1], m[2], m[3], m[4] or b''))
    return d
def m_attrorder(d, rng):
    def f(m):
        return b'<c%s r="%s">' % (m[2], m[1])
    pat = re.compile(rb'<c r="([A-Z]+\d+)"((?: [a-z]+="[^"]*")+)>')
    if rng.random() < .5: return pat.sub(f, d)
    for m in pick(rng, pat, d, 30): d = sub_at(d, m, f(m))
    return d
def m_selfclose(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 3)):
        d = sub_at(d, m, b'<c r="%s"%s><f/>%s</c>' % (m[1], m[2], m[4] or b''))
    return d
def m_fattr(d, rng):
    for m in pick(rng, FCELL, d, rng.randint(1, 3)):
        a = rng.choice([b' aca="false"', b' t="normal"', b' ca="1"', b' t="array" ref="%s"' % m[1]])
        d = sub_at(d, m, b'<c r="%s"%s><f%s>%s</f>%s</c>' % (m[1], m[2], a, m[3], m[4] or b''))
    return d
def m_error(d, rng):
    k = rng.choice(['cell', 'cellf', 'first', 'comment', 'inline', 'attr', 'many', 'noref', 'pi'])
    err = rng.choice([b'#REF!', b'#DIV/0!', b'#N/A', b'#VALUE!', b'#NAME?'])
    if k in ('cell', 'cellf', 'attr', 'noref'):
        for m in pick(rng, VCELL, d, rng.randint(1, 3)) + pick(rng, FCELL, d, 1):
            if k == 'cell': new = b'<c r="%s" t="e"><v>%s</v></c>' % (m[1], err)
            elif k == 'cellf': new = b'<c r="%s" t="e"><f>1/0</f><v>%s</v></c>' % (m[1], err)
            elif k == 'attr': new = b'<c t="e" s="13" r="%s"><v>%s</v></c>' % (m[1], err)
            else: new = b'<c t="e"><v>%s</v></c>' % err
            d = sub_at(d, m, new)
    elif k == 'first':
        i = d.find(b'<c ')
        m = VCELL.match(d, i) or FCELL.match(d, i)
        if m: d = sub_at(d, m, b'<c r="%s" t="e"><v>%s</v></c>' % (m[1], err))
    elif k == 'comment':
        i = d.find(b'<sheetData>') + len(b'<sheetData>')
        d = d[:i] + b'<!-- <c r="A1" t="e"><v>#REF!</v></c> -->' + d[i:]
        m = pick(rng, VCELL, d)[0]; d = sub_at(d, m, b'<c r="%s" t="e"><v>%s</v></c>' % (m[1], err))
    elif k == 'pi':
        i = d.find(b'<sheetData>') + len(b'<sheetData>')
        d = d[:i] + b'<?x <c r="B2" t="e"?>' + d[i:]
    elif k == 'inline':
        d = d.replace(b'<t>', b'<t>t="e" &lt;c t="e"&gt;<![CDATA[<c r="A1" t="e"><v>#N/A</v></c>]]>', 3)
        if rng.random() < .5:
            m = pick(rng, VCELL, d)[0]; d = sub_at(d, m, b'<c r="%s" t="e"><v>%s</v></c>' % (m[1], err))
    elif k == 'many':
        d = VCELL.sub(lambda m: b'<c r="%s" t="e"><v>%s</v></c>' % (m[1], err) if rng.random() < .1 else m[0], d)
    return d
def m_shared(d, rng):
    # a row's formulas of one shape made shared: find row runs
    rows = list(re.finditer(rb'<row r="(\d+)"[^>/]*>(.*?)</row>', d, re.S))
    rng.shuffle(rows)
    from openpyxl.formula.translate import Translator
    for row in rows:
        cells = list(FCELL.finditer(row[2]))
        if len(cells) < 3: continue
        anchor = cells[0]
        master = decode(anchor[3])
        ok = [anchor]
        for c in cells[1:]:
            try:
                t = Translator('=' + master, origin=anchor[1].decode()).translate_formula(c[1].decode())[1:]
            except Exception:
                break
            if t == decode(c[3]): ok.append(c)
            else: break
        if len(ok) < 2: continue
        body = row[2]
        si = b'%d' % rng.randint(0, 5)
        for c in reversed(ok[1:]):
            body = body[:c.start()] + b'<c r="%s"%s><f t="shared" si="%s"/>%s</c>' % (c[1], c[2], si, c[4] or b'') + body[c.end():]
        a = ok[0]
        body = body[:a.start()] + b'<c r="%s"%s><f t="shared" ref="%s:%s" si="%s">%s</f>%s</c>' % (a[1], a[2], a[1], ok[-1][1], si, a[3], a[4] or b'') + body[a.end():]
        d = d[:row.start(2)] + body + d[row.end(2):]
        if rng.random() < .6: break
    return d
def m_rows(d, rng):
    rows = list(re.finditer(rb'<row r="(\d+)"[^>/]*>.*?</row>|<row r="\d+"[^>]*/>', d, re.S))
    k = rng.choice(['drop', 'swap', 'dup', 'noref_row', 'noref_cells', 'reverse'])
    if k == 'drop':
        for m in sorted(rng.sample(rows, min(3, len(rows))), key=lambda m: -m.start()): d = sub_at(d, m, b'')
    elif k == 'swap':
        a, b = sorted(rng.sample(rows, 2), key=lambda m: m.start())
        d = d[:a.start()] + b[0] + d[a.end():b.start()] + a[0] + d[b.end():]
    elif k == 'dup':
        m = rng.choice(rows)
        d = d[:m.end()] + m[0] + d[m.end():]
    elif k == 'noref_row':
        m = rng.choice(rows)
        d = sub_at(d, m, re.sub(rb' r="[A-Z]+\d+"', b'', m[0]))
    elif k == 'noref_cells':
        m = rng.choice(rows)
        d = sub_at(d, m, re.sub(rb'<row r="(\d+)"', rb'<row', m[0], 1))
    elif k == 'reverse':
        s, e = rows[0].start(), rows[-1].end()
        d = d[:s] + b''.join(r[0] for r in reversed(rows)) + d[e:]
    return d
def m_daily(d, rng):
    # sheet4 only: delete, type, move count and total cells
    k = rng.choice(['del', 'type', 'move', 'typetotal', 'deltotal', 'text', 'blanktext'])
    if k in ('del', 'type', 'text', 'blanktext', 'move'):
        for m in pick(rng, re.compile(rb'<c r="([A-Z]+\d+)" s="13" t="n">(<v>[^<]*</v>)?</c>'), d, rng.randint(1, 8)):
            if k == 'del': new = b''
            elif k == 'type': new = b'<c r="%s" s="13" t="n"><v>%s</v></c>' % (m[1], rng.choice([b'0', b'7', b'12.5', b'-3', b'1e3']))
            elif k == 'text': new = b'<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (m[1], rng.choice([b'x', b'5', b'\xef\xbc\x95']))
            elif k == 'blanktext': new = b'<c r="%s" t="inlineStr"><is><t xml:space="preserve"> </t></is></c>' % m[1]
            else:
                col = re.match(rb'([A-Z]+)(\d+)', m[1]); new = b'<c r="%s%d" s="13" t="n"><v>4</v></c>' % (col[1], int(col[2]) + 1)
            d = sub_at(d, m, new)
    else:
        for m in pick(rng, FCELL, d, rng.randint(1, 4)):
            d = sub_at(d, m, b'' if k == 'deltotal' else b'<c r="%s"%s><v>%d</v></c>' % (m[1], m[2], rng.randint(0, 50)))
    return d

MUTS = [m_typeover, m_typeover_text, m_other_formula, m_respell, m_respell_all, m_entities, m_cdata, m_ws, m_prefix, m_attrorder, m_selfclose, m_fattr, m_error, m_shared, m_rows]

def variant(base_items, rng, n):
    items = list(base_items)
    for _ in range(n):
        i = rng.choice([1, 1, 2, 3, 4, 4, 4, 5, 6]) if rng.random() < .9 else rng.randint(7, 11)
        name = f'xl/worksheets/sheet{i}.xml'
        muts = MUTS + ([m_daily] * 4 if i == 4 else [])
        mut = rng.choice(muts)
        for j, (info, data) in enumerate(items):
            if info.filename == name:
                try:
                    items[j] = (info, mut(data, rng))
                except (IndexError, ValueError):
                    pass
                tags.append(f'{i}{mut.__name__[1:]}')
    return items

if __name__ == '__main__':
    start, count = int(sys.argv[1]), int(sys.argv[2])
    src = sys.argv[3] if len(sys.argv) > 3 else SRC
    prefix = sys.argv[4] if len(sys.argv) > 4 else 'v'
    base = load(src)
    for k in range(start, start + count):
        rng = random.Random(k)
        tags = []
        items = variant(base, rng, rng.choice([1, 1, 2, 3]))
        p = save(items, f'{prefix}{k:04d}.xlsm')
        print(p, ' '.join(tags))
