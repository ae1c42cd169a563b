# Reference values for tests/fit/test_model_fit.py::test_rmsea_interval_matches_r
# 90% confidence interval of RMSEA from the noncentral chi-square (Browne & Cudeck, 1993):
# the noncentrality at which the observed statistic is the 95% (lower bound) or 5% (upper
# bound) quantile, RMSEA = sqrt(ncp / (N * df)). Base R only.
# Run: Rscript tests/reference/fit_rmsea_ci.R > tests/reference/fit_rmsea_ci.out
bound <- function(x2, df, n, p) {
  if (pchisq(x2, df) < p) return(0)
  ncp <- uniroot(function(l) pchisq(x2, df, ncp = l) - p, c(0, 10 * x2 + 100), tol = 1e-12)$root
  sqrt(ncp / (n * df))
}
cases <- data.frame(x2 = c(11.93812807357621, 19.17929, 5.291576, 250.0),
                    df = c(5, 2, 9, 40), n = c(1000, 392, 1000, 5000))
for (i in seq_len(nrow(cases))) {
  with(cases[i, ], cat(sprintf("%.10f %d %d %.10f %.10f\n", x2, df, n,
                               bound(x2, df, n, 0.95), bound(x2, df, n, 0.05))))
}
