#!/bin/bash
# Differential check: `kofu-xl check FILE --json` in two source trees (BEFORE, AFTER: checkouts
# of two commits), stdout, stderr and exit code compared; prints "SAME rc FILE" or "DIFF rc/rc FILE".
# Pass absolute paths (the output names the file). Usage, ~200 random variants of the shipped workbook:
#   python bench/check_differential/variants_random.py 0 200 > list.txt
#   python bench/check_differential/variants_targeted.py workbook/交付円滑化計画.xlsm m >> list.txt
#   awk '{print $1}' list.txt | BEFORE=/tmp/before AFTER=$PWD xargs -P2 -n1 bench/check_differential/compare.sh | grep -v ^SAME
f="$1"; b=$(basename "$f")
o=${KOFU_DIFF_OUT:-/tmp/kofu-diff}/out; mkdir -p "$o"
for side in before after; do
  tree=$BEFORE; [ $side = after ] && tree=$AFTER
  (cd "$tree" && timeout 120 python -m kofu_xl check "$f" --json >"$o/$b.$side" 2>"$o/$b.$side.err"; echo $? >"$o/$b.$side.rc")
done
if cmp -s "$o/$b.before" "$o/$b.after" && cmp -s "$o/$b.before.rc" "$o/$b.after.rc" && cmp -s "$o/$b.before.err" "$o/$b.after.err"; then
  echo "SAME $(cat "$o/$b.after.rc") $f"
else
  echo "DIFF $(cat "$o/$b.before.rc")/$(cat "$o/$b.after.rc") $f"
fi
