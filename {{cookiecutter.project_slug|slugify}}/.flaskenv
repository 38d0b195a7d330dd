# Read by the `flask` command (local settings and secrets belong in .env, not here).
FLASK_APP={{ cookiecutter.package_name }}.app
