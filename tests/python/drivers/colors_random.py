# probe-modules: colorsys random
# Color conversions and a seeded random number generator.
import colorsys
import random

print(colorsys.rgb_to_hsv(0.2, 0.4, 0.4), colorsys.hsv_to_rgb(0.5, 0.5, 0.4), colorsys.rgb_to_hls(1, 0.5, 0))
print(colorsys.hls_to_rgb(0.1, 0.5, 0.8), colorsys.rgb_to_yiq(0.1, 0.2, 0.3), colorsys.yiq_to_rgb(0.5, 0.1, -0.1))
r = random.Random(12345)
xs = list(range(10))
r.shuffle(xs)
print(xs, r.choice("abcdef"), r.sample(range(100), 5), r.randrange(0, 100, 7), r.uniform(1, 2))
print(r.choices(["a", "b", "c"], weights=[5, 1, 1], k=6), r.gauss(0, 1), r.triangular(0, 10, 3))
print(r.randint(-5, 5), r.betavariate(2, 3), r.expovariate(1.5), r.getrandbits(70), r.binomialvariate(10, 0.3)
      if hasattr(r, "binomialvariate") else None)
