#!/usr/bin/env bash
# Extracts the ELF vmlinux from a bzImage (boot protocol >= 2.08), using the setup header's payload_offset and
# payload_length fields and the compressor named by the payload's magic (zstd, xz, gzip, lz4). The result keeps
# the kernel's ELF notes, including the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), so it boots with PVH.
#   extract-vmlinux.sh BZIMAGE OUT
set -euo pipefail
in=$1; out=$2
u8()  { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
[ "$(dd if="$in" bs=1 skip=514 count=4 status=none)" = HdrS ] || { echo "$in: not a bzImage (no HdrS)" >&2; exit 1; }
sects=$(u8 "$in" 497); [ "$sects" = 0 ] && sects=4
base=$(( (sects + 1) * 512 ))
poff=$(u32 "$in" 584); plen=$(u32 "$in" 588)
[ "$plen" -gt 0 ] || { echo "$in: boot protocol too old (no payload_length)" >&2; exit 1; }
magic=$(od -An -tx1 -j $((base + poff)) -N6 "$in" | tr -d ' ')
case $magic in
  28b52ffd*) dec="zstd -dcq" ;;
  fd377a585a00) dec="xz -dcq" ;;
  1f8b*) dec="gzip -dcq" ;;
  02214c18*) dec="lz4 -dcq" ;;
  *) echo "$in: unknown payload compression (magic $magic)" >&2; exit 1 ;;
esac
tail -c +$((base + poff + 1)) "$in" | head -c "$plen" | $dec > "$out.tmp" 2>/dev/null || true
[ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { rm -f "$out.tmp"; echo "$in: payload did not decompress to an ELF" >&2; exit 1; }
mv "$out.tmp" "$out"
