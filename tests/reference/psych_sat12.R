# Reference numbers for the SAT12 tests in tests/test_reliability.py and tests/test_ctt.py.
# Run from this folder with:  Rscript psych_sat12.R ../../../shared/data/SAT12_scored.csv
# R 4.x, psych 2.2.9. 600 students x 32 items scored 0/1, 69 omitted answers missing.
suppressPackageStartupMessages(library(psych))
options(digits = 15, width = 200)
path <- commandArgs(trailingOnly = TRUE)[1]
x <- read.csv(path)
a <- suppressWarnings(psych::alpha(x, check.keys = FALSE, warnings = FALSE))
print(a$total[c("raw_alpha", "std.alpha")])
print(unlist(a$feldt[c("lower.ci", "upper.ci")]))
print(a$item.stats[1:5, c("n", "r.drop", "mean")])
print(a$alpha.drop[1:5, "raw_alpha"])
s <- psych::splitHalf(x, covar = TRUE, check.keys = FALSE)
print(unlist(s[c("lambda2", "lambda6")]))
