"""What the fault tests share: a run folder's bytes, and the CLI's one-line error."""
from pathlib import Path


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones included) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    """The CLI's stderr: one line starting with ``error: ``, no traceback."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0 and err.startswith("error: "), err
    return err
