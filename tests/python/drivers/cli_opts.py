# probe-modules: optparse getopt
# Command lines parsed the old ways: optparse with callbacks, choices,
# groups and help formatting; getopt short/long, GNU style.
import getopt
import optparse


def scale(option, opt_str, value, parser, factor):
    setattr(parser.values, option.dest, value * factor)


p = optparse.OptionParser(usage="%prog [options] FILE...", version="%prog 1.0", prog="fir")
p.add_option("-t", "--taps", type="int", default=64, help="number of taps [default: %default]")
p.add_option("-g", "--gain", type="float", action="callback", callback=scale, callback_args=(2.0,),
             dest="gain", help="gain, doubled")
p.add_option("-w", "--window", choices=["hann", "hamming", "kaiser"], default="hann")
p.add_option("-v", action="count", dest="verbose", default=0)
p.add_option("-q", action="store_const", const=0, dest="verbose")
p.add_option("--tag", action="append", default=[])
grp = optparse.OptionGroup(p, "Output", "Where the filtered blocks go.")
grp.add_option("-o", "--output", metavar="PATH")
grp.add_option("--no-plot", action="store_false", dest="plot", default=True)
p.add_option_group(grp)
opts, args = p.parse_args(["-t", "32", "-vv", "--gain=1.5", "--tag", "a", "--tag=b", "-o", "x.wav",
                           "--no-plot", "in1.wav", "--", "-in2.wav"])
print(sorted(vars(opts).items()), args)
print(p.format_help())
for bad in (["--window", "box"], ["-t", "many"], ["--nope"]):
    try:
        p.parse_args(bad)
    except SystemExit as e:
        print("exit", e.code)
p.disable_interspersed_args()
print(p.parse_args(["a", "-t", "5"])[1])

print(getopt.getopt(["-a", "-bval", "-c", "x", "--long=1", "--flag", "rest", "-z"], "ab:c:", ["long=", "flag"]))
print(getopt.gnu_getopt(["rest", "-a", "--lo", "2", "more", "--", "-b"], "ab:", ["long="]))
for bad in ([["-x"], "ab"], [["--lon"], "a", ["long=", "longer"]], [["-b"], "b:"]):
    try:
        getopt.getopt(*bad)
    except getopt.GetoptError as e:
        print("error", e.msg, e.opt)
