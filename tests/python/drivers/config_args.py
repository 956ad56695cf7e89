# probe-modules: configparser argparse
# An INI file with interpolation and an argument parser with subcommands.
import argparse
import configparser

cp = configparser.ConfigParser()
cp.read_string("""
[DEFAULT]
base = /srv
[paths]
data = %(base)s/data
logs = ${base}/logs
n = 42
flag = yes
""")
print(cp.get("paths", "data"), cp.getint("paths", "n"), cp.getboolean("paths", "flag"), cp.sections())
ext = configparser.ConfigParser(interpolation=configparser.ExtendedInterpolation())
ext.read_string("[a]\nx = 1\n[b]\ny = ${a:x}2\n")
print(ext["b"]["y"], dict(cp["paths"]))
p = argparse.ArgumentParser(prog="tool")
p.add_argument("-v", "--verbose", action="count", default=0)
p.add_argument("--size", type=int, choices=[1, 2, 3], default=2)
sub = p.add_subparsers(dest="cmd")
run = sub.add_parser("run")
run.add_argument("files", nargs="+")
run.add_argument("--jobs", "-j", type=int)
print(p.parse_args(["-vv", "--size", "3", "run", "a.py", "b.py", "-j", "4"]))
print(p.format_usage())
