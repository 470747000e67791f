"""Stopping the servers tests start: by their own Popen handle (never by name)."""
import subprocess


def stop(proc, grace=5):
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
