"""The hostile-input corpus: bad messages a base (or an attacker with access to the shared folder)
could leave, with what onecsync must do about each; see cases.yaml and make.py."""
