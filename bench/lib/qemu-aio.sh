# Sourced by the bench scripts that run QEMU in L1.
# qemu_best_aio FILE FORMAT CACHE LOGDIR: prints QEMU's best asynchronous I/O mode for that drive, the first of
# io_uring and native that QEMU accepts (it exits with an error at once when it cannot open the drive that way), else
# threads; says on stderr why a mode was refused.
qemu_best_aio() {
  local file=$1 fmt=$2 cache=$3 logs=$4 a
  for a in io_uring native; do
    if echo quit | timeout 60 qemu-system-x86_64 -M none -nodefaults -display none -monitor stdio \
         -drive "file=$file,if=none,id=p,format=$fmt,cache=$cache,aio=$a" > "$logs/aio-$a.log" 2>&1; then
      echo "$a"
      return
    fi
    echo "qemu refuses aio=$a: $(grep -v '^QEMU\|^(qemu)' "$logs/aio-$a.log" | head -2 | tr '\n' ' ')" >&2
  done
  echo threads
}
