"""Targeted variants (one kind of edit each, on sheets 1, 2, 4 and 5, and 日次実績 edits) for the
differential check of `kofu-xl check` (see compare.sh). Usage: variants_targeted.py SOURCE PREFIX."""
import html
import os
import re
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from variants_random import FCELL, decode, enc_ref, load

OUT = os.path.join(os.environ.get('KOFU_DIFF_OUT', '/tmp/kofu-diff'), 'var2'); os.makedirs(OUT, exist_ok=True)
def save(items, name):
    p = os.path.join(OUT, name)
    with zipfile.ZipFile(p, 'w', zipfile.ZIP_DEFLATED) as z:
        for info, data in items: z.writestr(info.filename, data)
    print(p)
def edit(base, name, **fns):
    items = []
    for info, data in base:
        key = 's' + info.filename.rsplit('sheet', 1)[-1].split('.')[0] if info.filename.startswith('xl/worksheets/sheet') else None
        if key in fns: data = fns[key](data)
        items.append((info, data))
    save(items, name)
def all_f(fn):
    return lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], fn(m[3], m), m[4] or b''), d)
def nth_f(n, fn):
    def g(d):
        ms = list(FCELL.finditer(d))
        m = ms[n % len(ms)]
        return d[:m.start()] + b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1], m[2], fn(m[3], m), m[4] or b'') + d[m.end():]
    return g
def prefix_all(d):
    d = re.sub(rb'<(/?)(worksheet|sheetData|row|c|f|v|is|t|sheetPr|outlinePr|pageSetUpPr|dimension|sheetViews|sheetView|pane|selection|sheetFormatPr|cols|col|mergeCells|mergeCell|pageMargins|pageSetup|dataValidations|dataValidation|formula1|formula2|conditionalFormatting|cfRule|formula|drawing|legacyDrawing|headerFooter|oddHeader|oddFooter|printOptions|rowBreaks|brk|sheetProtection|tableParts|extLst|ext|hyperlinks|hyperlink|colBreaks|autoFilter|rPr|r|b|sz|color|rFont|family|scheme)\b', rb'<\1x:\2', d)
    return d.replace(b'<x:worksheet xmlns=', b'<x:worksheet xmlns:x=', 1)
T = {
 'hex': all_f(lambda t, m: enc_ref(decode(t)).encode() if False else ''.join(c if ord(c) < 128 else f'&#x{ord(c):x};' for c in html.escape(decode(t), quote=False)).encode()),
 'raw': all_f(lambda t, m: html.escape(decode(t), quote=False).encode()),
 'quot': all_f(lambda t, m: t.replace(b'"', b'&quot;')),
 'crlf_raw': nth_f(5, lambda t, m: t.replace(b',', b',\r\n', 1)),
 'cr_raw': nth_f(5, lambda t, m: t.replace(b',', b',\r', 1)),
 'lf_raw': nth_f(5, lambda t, m: t.replace(b',', b',\n', 1)),
 'lf_raw_all': all_f(lambda t, m: t.replace(b',', b',\n', 1)),
 'cr_ref': nth_f(7, lambda t, m: t.replace(b',', b',&#13;', 1)),
 'crlf_ref_all': all_f(lambda t, m: t.replace(b',', b',&#13;&#10;', 1)),
 'lf_ref': nth_f(9, lambda t, m: t.replace(b',', b',&#10;', 1)),
 'tab': all_f(lambda t, m: t.replace(b',', b',\t', 1)),
 'tab_ref': all_f(lambda t, m: t.replace(b',', b',&#9;', 1)),
 'amp_concat': nth_f(3, lambda t, m: b'&quot;a&quot;&amp;&quot;b&quot;'),
 'ltgt': nth_f(3, lambda t, m: b'IF(A1&lt;&gt;&quot;&quot;,1,2)'),
 'cdata1': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f><![CDATA[%s]]></f>%s</c>' % (m[1], m[2], decode(m[3]).encode(), m[4] or b''), d, count=1),
 'cdata_all': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f><![CDATA[%s]]></f>%s</c>' % (m[1], m[2], decode(m[3]).encode(), m[4] or b''), d),
 'cdata_split': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f>%s<![CDATA[%s]]></f>%s</c>' % (m[1], m[2], m[3][:3], decode(m[3][3:]).encode() if b'&' not in m[3][:3] else b'', m[4] or b''), d),
 'prefix_all': prefix_all,
 'prefix_f': lambda d: d.replace(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1).replace(b'<f>', b'<x:f>').replace(b'</f>', b'</x:f>'),
 'attr_rev': lambda d: re.sub(rb'<c r="([A-Z]+\d+)"((?: [a-z]+="[^"]*")+)>', rb'<c\2 r="\1">', d),
 'attr_ws': lambda d: re.sub(rb'<c r="([A-Z]+\d+)"', rb'<c  r="\1" ', d),
 'attr_nl': lambda d: re.sub(rb'<c r="([A-Z]+\d+)"', rb'<c\n r="\1"\n', d),
 'attr_sq': lambda d: re.sub(rb'<c r="([A-Z]+\d+)"', rb"<c r='\1'", d),
 'f_space': lambda d: d.replace(b'<f>', b'<f >'),
 'v_first': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s>%s<f>%s</f></c>' % (m[1], m[2], m[4] or b'', m[3]), d),
 'selfclose_all': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f/>%s</c>' % (m[1], m[2], m[4] or b''), d),
 'empty_f': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f></f>%s</c>' % (m[1], m[2], m[4] or b''), d, count=5),
 'no_r': lambda d: FCELL.sub(lambda m: b'<c%s><f>%s</f>%s</c>' % (m[2], m[3], m[4] or b''), d, count=3),
 'r_lower': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1].lower(), m[2], m[3], m[4] or b''), d, count=3),
 'r_long': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><f>%s</f>%s</c>' % (m[1] + b' ' * 40, m[2], m[3], m[4] or b''), d, count=1),
 'r_eq_end': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s xr=""><f>%s</f>%s</c>' % (m[1], m[2], m[3], m[4] or b''), d, count=1),
 'long_attr': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s xy="%s"><f>%s</f>%s</c>' % (m[1], m[2], b'a' * 4100, m[3], m[4] or b''), d, count=1),
 'big_part': lambda d: d.replace(b'<sheetData>', b'<sheetData>' + b'<!--' + b'x' * (1024 * 1024) + b'-->', 1),
 'f_in_comment': lambda d: d.replace(b'<sheetData>', b'<sheetData><!-- <c r="E8"><f>1+1</f></c> ><f>2</f> <f -->', 1),
 'err_first': lambda d: re.sub(rb'<c r="([A-Z]+\d+)"([^<>]*)>', rb'<c r="\1"\2 t="e"><v>#REF!</v></c><c r="ZZ9999"\2>', d, count=1),
 'err_formula_cells': lambda d: FCELL.sub(lambda m: b'<c r="%s" t="e"><f>%s</f><v>#NAME?</v></c>' % (m[1], m[3]), d, count=20),
 'err_all_formula_cells': lambda d: FCELL.sub(lambda m: b'<c r="%s" t="e"><f>%s</f><v>#NAME?</v></c>' % (m[1], m[3]), d),
 'err_inline': lambda d: d.replace(b'<t>', b'<t>t="e"&lt;c r="A1" t="e"&gt;&lt;v&gt;#N/A&lt;/v&gt;', 5),
 'err_after_comment': lambda d: FCELL.sub(lambda m: b'<!-- t="e" < --><c r="%s" t="e"><v>#DIV/0!</v></c>' % m[1], d, count=4),
 'err_comment_only': lambda d: d.replace(b'<sheetData>', b'<sheetData><!-- <c r="E8" t="e"><v>#REF!</v></c> -->', 1),
 'err_attr_value': lambda d: re.sub(rb'<c r="([A-Z]+\d+)" s="(\d+)"', rb'<c r="\1" s="\2" xx="t=&quot;e&quot;"', d, count=10),
 'err_tag_order': lambda d: FCELL.sub(lambda m: b'<c t="e" r="%s"><v>#VALUE!</v></c>' % m[1], d, count=4),
 'err_prefixed': lambda d: d.replace(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1).replace(b'</sheetData>', b'<x:row r="900"><x:c r="B900" t="e"><x:v>#REF!</x:v></x:c></x:row></sheetData>'),
 'err_v_space': lambda d: FCELL.sub(lambda m: b'<c r="%s" t="e"> <v>#REF!</v></c>' % m[1], d, count=2),
 'err_nov': lambda d: FCELL.sub(lambda m: b'<c r="%s" t="e"><f>%s</f></c>' % (m[1], m[3]), d, count=2),
 'err_selfclose_tag': lambda d: d.replace(b'<sheetData>', b'<sheetData><row r="999"><c r="A999" t="e"/></row>', 1) if False else re.sub(rb'</sheetData>', b'<row r="1999"><c r="A1999" t="e"/><c r="B1999" t="e"><v>#N/A</v></c></row></sheetData>', d),
 'rows_reverse': lambda d: (lambda rows: d[:rows[0].start()] + b''.join(r[0] for r in reversed(rows)) + d[rows[-1].end():])(list(re.finditer(rb'<row r="\d+"[^>/]*>.*?</row>|<row r="\d+"[^>]*/>', d, re.S))),
 'rows_noref': lambda d: re.sub(rb'<row r="\d+"', b'<row', d),
 'cells_noref': lambda d: re.sub(rb'<c r="[A-Z]+\d+"', b'<c', d),
 'rows_dup': lambda d: re.sub(rb'(<row r="1[0-9]"[^>/]*>.*?</row>)', rb'\1\1', d, flags=re.S),
}
DAILY = {
 'd_del_counts': lambda d: re.sub(rb'<c r="[A-Z]+\d+" s="13" t="n"><v>[^<]*</v></c>', b'', d, count=40),
 'd_type_totals': lambda d: FCELL.sub(lambda m: b'<c r="%s"%s><v>5</v></c>' % (m[1], m[2]), d),
 'd_del_totals': lambda d: FCELL.sub(b'', d, count=30),
 'd_move': lambda d: re.sub(rb'<c r="([A-Z]+)(1[13])" s="13" t="n"><v>', lambda m: b'<c r="%s%d" s="13" t="n"><v>' % (m[1], int(m[2]) + 1), d),
 'd_text': lambda d: re.sub(rb'<c r="([A-Z]+\d+)" s="13" t="n"><v>([^<]*)</v></c>', rb'<c r="\1" t="inlineStr"><is><t>\2</t></is></c>', d, count=20),
 'd_space': lambda d: re.sub(rb'<c r="([A-Z]+\d+)" s="13" t="n"></c>', rb'<c r="\1" t="inlineStr"><is><t xml:space="preserve">  </t></is></c>', d, count=60),
 'd_rows_shift': lambda d: re.sub(rb'<row r="(1[0-9])"', rb'<row r="2\1"', d),
 'd_delete_rows': lambda d: re.sub(rb'<row r="(1[0-9]|2[0-9])"[^>/]*>.*?</row>', b'', d, flags=re.S),
 'd_str_formula': lambda d: FCELL.sub(lambda m: b'<c r="%s" t="str"><f>%s</f><v>x</v></c>' % (m[1], m[3]), d, count=10),
 'd_bool': lambda d: re.sub(rb'<c r="([A-Z]+\d+)" s="13" t="n"><v>([^<]*)</v></c>', rb'<c r="\1" t="b"><v>1</v></c>', d, count=5),
 'd_date': lambda d: re.sub(rb'<c r="([A-Z]+\d+)" s="13" t="n"><v>([^<]*)</v></c>', rb'<c r="\1" s="12"><v>43700</v></c>', d, count=5),
 'd_shared_totals': None,
}
if __name__ == '__main__':
    src = sys.argv[1]; pre = sys.argv[2]
    base = load(src)
    for k, fn in T.items():
        for s in ('s1', 's4', 's5', 's2') if k not in ('big_part', 'cells_noref') else ('s1', 's4'):
            edit(base, f'{pre}_{k}_{s}.xlsm', **{s: fn})
    for k, fn in DAILY.items():
        if fn: edit(base, f'{pre}_{k}.xlsm', s4=fn)
