# Reference numbers for the ordinal CFA tests in tests/factor/test_cfa.py.
# Run from the repository root:  Rscript tests/reference/cfa_ordinal.R
# lavaan 0.6.14, R 4.2.2. Data: tests/reference/cfa_ordinal*.csv (made by cfa_make_ordinal.py).
library(lavaan)
d <- read.csv("tests/reference/cfa_ordinal.csv")
dm <- read.csv("tests/reference/cfa_ordinal_missing.csv")
model <- "f1 =~ q1 + q2 + q3 + q4
          f2 =~ q5 + q6 + q7 + q8"
measures <- c("chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
              "chisq.scaling.factor", "baseline.chisq", "baseline.chisq.scaled",
              "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr")
show <- function(x) print(as.data.frame(x), digits = 10, row.names = FALSE)
report <- function(fit) {
  print(unclass(fitMeasures(fit, measures)), digits = 10)
  std <- standardizedSolution(fit)
  show(std[std$op == "=~" | (std$op == "~~" & std$lhs != std$rhs), c("lhs", "op", "rhs", "est.std", "se")])
}
for (est in c("WLSMV", "ULSMV")) {
  cat("\n=====", est, "complete data\n")
  report(cfa(model, data = d, ordered = TRUE, estimator = est))
}
cat("\n===== WLSMV, missing = 'pairwise'\n")
report(cfa(model, data = dm, ordered = TRUE, estimator = "WLSMV", missing = "pairwise"))
cat("\n===== WLSMV with correlated residual q1 ~~ q2 and cross-loading f2 =~ q4\n")
report(cfa(paste(model, "\n q1 ~~ q2 \n f2 =~ q4"), data = d, ordered = TRUE, estimator = "WLSMV"))
one <- "g =~ q1 + q2 + q3 + q4 + q5 + q6 + q7 + q8"
for (est in c("WLSMV", "ULSMV")) {
  cat("\n=====", est, "misspecified one-factor model\n")
  report(cfa(one, data = d, ordered = TRUE, estimator = est))
}
cat("\n===== polychoric correlations (complete data)\n")
print(lavCor(d, ordered = names(d)), digits = 10)
cat("\n===== modification indices, WLSMV two-factor model (largest 6)\n")
fit <- cfa(model, data = d, ordered = TRUE, estimator = "WLSMV")
show(modindices(fit, sort. = TRUE, maximum.number = 6)[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")])
