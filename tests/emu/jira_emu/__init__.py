"""Jira REST emulator for ferry's tests (standard library only).

See tests/emu/README.md for the command line, the configuration format and the
/_emu/ control API.
"""
