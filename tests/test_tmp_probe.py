from tests.test_foreign_names import a_pair, NON_UTF8
from tests.conftest import invoke
def test_p(tmp_path, capsys):
    box = a_pair(tmp_path, capsys, "pair-" + NON_UTF8, NON_UTF8)
    code, out, err = invoke(capsys, "--config", str(box.config), "-v", "run")
    print(err[-1500:])
    assert 0
