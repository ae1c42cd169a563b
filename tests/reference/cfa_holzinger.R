# Reference numbers for tests/factor/test_cfa.py (Holzinger & Swineford, ML).
# Run from the repository root:  Rscript tests/reference/cfa_holzinger.R
# lavaan 0.6.14, R 4.2.2. Data: ../shared/data/HolzingerSwineford1939.csv
library(lavaan)
hs <- read.csv("../shared/data/HolzingerSwineford1939.csv")
model <- "visual =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed =~ x7 + x8 + x9"
fit <- cfa(model, data = hs)   # estimator ML, marker identification, N (not N-1)
show <- function(x) print(as.data.frame(x), digits = 10, row.names = FALSE)
print(unclass(fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower",
                         "rmsea.ci.upper", "srmr", "aic", "bic", "logl", "baseline.chisq",
                         "baseline.df"))), digits = 10)
show(standardizedSolution(fit)[, c("lhs", "op", "rhs", "est.std", "se")])
show(parameterEstimates(fit)[, c("lhs", "op", "rhs", "est", "se")])
mi <- modindices(fit, sort. = TRUE)
show(head(mi[, c("lhs", "op", "rhs", "mi", "epc")], 10))
# a cross-loading, and (separately) a correlated residual
fit2 <- cfa(paste(model, "\n visual =~ x9"), data = hs)
print(unclass(fitMeasures(fit2, c("chisq", "df", "cfi", "tli", "rmsea", "srmr"))), digits = 10)
show(standardizedSolution(fit2)[1:10, c("lhs", "op", "rhs", "est.std", "se")])
fit3 <- cfa(paste(model, "\n x7 ~~ x8"), data = hs)
print(unclass(fitMeasures(fit3, c("chisq", "df", "cfi", "tli", "rmsea", "srmr"))), digits = 10)
show(standardizedSolution(fit3)[c(1:10, 23:25), c("lhs", "op", "rhs", "est.std", "se")])
