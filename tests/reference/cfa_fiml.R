# Reference numbers for the FIML test in tests/factor/test_cfa.py.
# Run from the repository root:  Rscript tests/reference/cfa_fiml.R
# lavaan 0.6.14, R 4.2.2. Holzinger & Swineford x1..x9 with cells blanked by a fixed rule:
# row i (0-based), item j (0-based, x1 = 0) is missing when (31 i + 17 j) %% 23 == 0.
library(lavaan)
hs <- read.csv("../shared/data/HolzingerSwineford1939.csv")[, paste0("x", 1:9)]
for (j in 0:8) {
  i <- 0:(nrow(hs) - 1)
  hs[(31 * i + 17 * j) %% 23 == 0, j + 1] <- NA
}
cat("missing cells:", sum(is.na(hs)), " complete rows:", sum(complete.cases(hs)), "\n")
model <- "visual =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed =~ x7 + x8 + x9"
show <- function(x) print(as.data.frame(x), digits = 10, row.names = FALSE)
measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
              "srmr", "aic", "bic", "logl", "unrestricted.logl", "baseline.chisq", "baseline.df", "npar")
for (info in c("observed", "expected")) {
  cat("\n===== missing = 'ml', information =", info, "\n")
  fit <- cfa(model, data = hs, missing = "ml", information = info)
  print(unclass(fitMeasures(fit, measures)), digits = 10)
  std <- standardizedSolution(fit)
  show(std[std$op == "=~" | (std$op == "~~" & std$lhs != std$rhs), c("lhs", "op", "rhs", "est.std", "se")])
  pe <- parameterEstimates(fit)
  show(pe[pe$op %in% c("=~", "~1") | pe$lhs == pe$rhs, c("lhs", "op", "rhs", "est", "se")][c(2, 3, 10, 19, 22), ])
  show(head(modindices(fit, sort. = TRUE)[, c("lhs", "op", "rhs", "mi", "epc")], 4))
}
cat("\n===== listwise (default) for comparison\n")
print(unclass(fitMeasures(cfa(model, data = hs), c("chisq", "df", "ntotal"))), digits = 10)
cat("\n===== complete data, ML, information = 'observed'\n")
hs0 <- read.csv("../shared/data/HolzingerSwineford1939.csv")
fit <- cfa(model, data = hs0, information = "observed")
std <- standardizedSolution(fit)
show(std[std$op == "=~", c("lhs", "op", "rhs", "est.std", "se")][c(1, 2, 9), ])
pe <- parameterEstimates(fit)
show(pe[c(2, 10, 19, 22), c("lhs", "op", "rhs", "est", "se")])
cat("\n===== complete data, missing = 'ml' (must equal plain ML)\n")
fit <- cfa(model, data = hs0, missing = "ml")
print(unclass(fitMeasures(fit, c("chisq", "df", "cfi", "srmr", "aic", "npar"))), digits = 10)
