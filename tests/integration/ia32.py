"""A static i386 program for tracer tests, assembled here (binutils: as --32, ld -m elf_i386;
no libc): execve through int 0x80, once failing, then running /bin/echo ia32-marker."""
import shutil
import subprocess

import pytest

from conftest import run

IA32_EXEC = r"""
	.data
bad:	.asciz "/nonexistent-ia32"
path:	.asciz "/bin/echo"
a1:	.asciz "ia32-marker"
argv:	.long path, a1, 0
	.text
	.globl _start
_start:	movl argv, %eax		# fault the data page in: a tracer cannot, at syscall entry
	movl $11, %eax		# execve, i386 number: fails (ENOENT)...
	movl $bad, %ebx
	movl $argv, %ecx
	xorl %edx, %edx
	int $0x80
	movl $11, %eax		# ...then runs /bin/echo
	movl $path, %ebx
	int $0x80
	movl $1, %eax		# exit(1) if it returned
	movl $1, %ebx
	int $0x80
"""


def ia32_exec(tmp_path):
    """A static i386 program (no libc) that calls execve through int 0x80; skip when it cannot run here."""
    for tool in ("as", "ld"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} (binutils) is not installed: cannot build the i386 test program")
    src, obj, exe = tmp_path / "ia32.S", tmp_path / "ia32.o", tmp_path / "ia32-exec"
    src.write_text(IA32_EXEC)
    run(["as", "--32", "-o", str(obj), str(src)], check=0)
    run(["ld", "-m", "elf_i386", "-o", str(exe), str(obj)], check=0)
    try:
        p = subprocess.run([str(exe)], capture_output=True, text=True)
    except OSError as e:	# ENOEXEC: no i386 binfmt at all
        pytest.skip(f"this kernel cannot run i386 programs (CONFIG_IA32_EMULATION off, or ia32_emulation=0): {e}")
    if p.returncode != 0 or p.stdout != "ia32-marker\n":
        pytest.skip(f"this kernel cannot run i386 programs (CONFIG_IA32_EMULATION off, or ia32_emulation=0): "
                    f"exit {p.returncode}, {p.stderr.strip()}")
    return str(exe)
