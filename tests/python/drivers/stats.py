# probe-modules: statistics fractions
# statistics and fractions on small data sets.
import statistics
from fractions import Fraction

data = [2.75, 1.75, 1.25, 0.25, 0.5, 1.25, 3.5]
print(statistics.mean(data), statistics.fmean(data), statistics.median(data))
print(statistics.median_low([1, 3, 5, 7]), statistics.median_high([1, 3, 5, 7]))
print(statistics.mode([1, 1, 2, 3, 3, 3]), statistics.multimode("aabbbcc"))
print(statistics.pstdev(data), statistics.variance([1, 2, 3, 4, 5, 6]))
print(statistics.quantiles([1, 2, 3, 4, 5, 6, 7, 8, 9], n=4))
print(statistics.mean([Fraction(1, 3), Fraction(2, 3), Fraction(5, 6)]))
print(statistics.harmonic_mean([40, 60]), statistics.geometric_mean([54, 24, 36]))
print(statistics.correlation([1, 2, 3, 4], [2, 4, 5, 9]), statistics.linear_regression([1, 2, 3], [2, 4, 7]))
nd = statistics.NormalDist(5, 2)
print(nd.cdf(6), nd.inv_cdf(0.75), (nd + statistics.NormalDist(1, 1)).stdev)
f = Fraction(3, 4) + Fraction("1/6") - Fraction(0.5)
print(f, f.limit_denominator(5), Fraction(2.25).as_integer_ratio(), round(Fraction(7, 3), 2), f ** 2)
