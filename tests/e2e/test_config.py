"""ferry config show: the effective configuration, and exit 78 on bad input."""
import json
import os
import subprocess

FERRY = os.environ.get("FERRY_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "ferry"))


def write_config(tmp_path, extra=""):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-token\n")
    secret.chmod(0o600)
    conf = tmp_path / "ferry.conf"
    conf.write_text(
        "[site]\nname = alpha\nstate_dir = %s\n"
        "[jira]\nurl = http://127.0.0.1:9/\nuser = ferry\nsecret_file = %s\n"
        "[connection alpha-beta]\nproject = DEMO\noutbox = %s\ninbox = %s\n%s"
        % (tmp_path / "state", secret, tmp_path / "spool", tmp_path / "spool",
           extra))
    return conf


def ferry(*args, env=None):
    return subprocess.run([FERRY, *args], capture_output=True, text=True,
                          env=env, timeout=30)


def test_config_show_prints_defaults_and_never_the_secret(tmp_path):
    conf = write_config(tmp_path)
    r = ferry("-c", str(conf), "config", "show")
    assert r.returncode == 0, r.stderr
    assert "[connection alpha-beta]" in r.stdout
    assert "scope = project = DEMO" in r.stdout
    assert "resend_after = 86400s" in r.stdout
    assert "s3cret-token" not in r.stdout + r.stderr


def test_config_show_json_is_machine_readable(tmp_path):
    conf = write_config(tmp_path)
    r = ferry("-c", str(conf), "--json", "config", "show")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["site"]["name"] == "alpha"
    assert doc["jira"]["url"] == "http://127.0.0.1:9"
    assert doc["jira"]["secret"] == "********"
    assert doc["connections"][0]["encrypt"] is True
    assert "s3cret-token" not in r.stdout


def test_config_from_environment_variable(tmp_path):
    conf = write_config(tmp_path)
    env = dict(os.environ, FERRY_CONFIG=str(conf))
    r = ferry("config", "show", env=env)
    assert r.returncode == 0, r.stderr
    assert "name = alpha" in r.stdout


def test_typo_exits_78_naming_line_and_nearest_key(tmp_path):
    conf = write_config(tmp_path, "resend_afer = 2d\n")
    r = ferry("-c", str(conf), "config", "show")
    assert r.returncode == 78
    assert r.stdout == ""
    assert ("%s:12: unknown key 'resend_afer' in [connection alpha-beta]; "
            "did you mean 'resend_after'?" % conf) in r.stderr


def test_world_readable_secret_exits_78(tmp_path):
    conf = write_config(tmp_path)
    (tmp_path / "secret").chmod(0o644)
    r = ferry("-c", str(conf), "config", "show")
    assert r.returncode == 78
    assert "chmod 600" in r.stderr


def test_missing_config_file_says_how_to_give_one(tmp_path):
    r = ferry("-c", str(tmp_path / "none.conf"), "config", "show")
    assert r.returncode != 0
    assert "-c FILE" in r.stderr and "none.conf" in r.stderr


def test_unknown_command_and_bad_usage_exit_64():
    r = ferry("frobnicate")
    assert r.returncode == 64
    assert "unknown command 'frobnicate'" in r.stderr
    r = ferry("config")
    assert r.returncode == 64
    assert "usage" in r.stderr
