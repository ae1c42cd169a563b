# Reference numbers for tests/test_reliability.py and tests/test_ctt.py.
# Run from this folder with:  Rscript psych_reliability.R > psych_reliability.out
# R 4.x, psych 2.2.9. Data: likert_500x8.csv (made by generate_likert.py).
suppressPackageStartupMessages(library(psych))
options(digits = 15, width = 200)
x <- read.csv("likert_500x8.csv", row.names = 1)
xl <- x[complete.cases(x), ]

show <- function(label, value) { cat("##", label, "\n"); print(value) }

# alpha, pairwise covariances (psych's default use = "pairwise")
a <- psych::alpha(x)
show("alpha pairwise total", a$total)
show("alpha pairwise alpha.drop", a$alpha.drop)
show("alpha pairwise item.stats", a$item.stats)
show("alpha pairwise feldt", unlist(a$feldt[c("lower.ci", "alpha", "upper.ci")]))
show("alpha pairwise nsub", nrow(x))

# alpha on complete cases (listwise)
al <- psych::alpha(xl)
show("alpha listwise total", al$total)
show("alpha listwise alpha.drop", al$alpha.drop)
show("alpha listwise item.stats", al$item.stats)
show("alpha listwise feldt", unlist(al$feldt[c("lower.ci", "alpha", "upper.ci")]))
show("alpha listwise nsub", nrow(xl))
show("alpha.ci(0.8, 100, 10, p.val = 0.10)", unlist(alpha.ci(0.8, 100, 10, p.val = 0.10)[c("lower.ci", "upper.ci")]))

# split halves: all 35 distinct 4+4 splits (brute force since choose(8,4)/2 <= n.sample)
for (cv in c(TRUE, FALSE)) {
  s <- psych::splitHalf(x, covar = cv, check.keys = FALSE)
  show(paste("splitHalf pairwise covar =", cv), unlist(s[c("maxrb", "minrb", "meanr", "alpha", "lambda2", "lambda6")]))
  s <- psych::splitHalf(xl, covar = cv, check.keys = FALSE)
  show(paste("splitHalf listwise covar =", cv), unlist(s[c("maxrb", "minrb", "meanr", "alpha", "lambda2", "lambda6")]))
}

# Guttman lambdas on the correlation matrix cov2cor(cov(x, use = "pairwise"))
C <- cov(x, use = "pairwise")
g <- suppressWarnings(psych::guttman(C))
show("guttman standardized pairwise", unlist(g[c("lambda.1", "lambda.2", "lambda.3", "lambda.4", "lambda.5", "lambda.6")]))
gl <- suppressWarnings(psych::guttman(cov(xl)))
show("guttman standardized listwise", unlist(gl[c("lambda.1", "lambda.2", "lambda.3", "lambda.4", "lambda.5", "lambda.6")]))

# lambda 1 and 5 on the covariance matrix (psych::guttman's formulas, applied to C)
lam15 <- function(C) {
  Vt <- sum(C); l1 <- 1 - tr(C) / Vt
  cco <- colSums(C^2) - diag(C^2)
  c(lambda1 = l1, lambda5 = l1 + 2 * sqrt(max(cco)) / Vt)
}
show("lambda1/5 covariance pairwise", lam15(C))
show("lambda1/5 covariance listwise", lam15(cov(xl)))

# split-half correlations from the pairwise covariance matrix, with Spearman-Brown
halfr <- function(C, A) {
  B <- 1 - A
  r <- drop(t(A) %*% C %*% B) / sqrt(drop(t(A) %*% C %*% A) * drop(t(B) %*% C %*% B))
  c(r = r, spearman_brown = 2 * r / (1 + r))
}
show("odd-even pairwise", halfr(C, c(1, 0, 1, 0, 1, 0, 1, 0)))
show("first-second pairwise", halfr(C, c(1, 1, 1, 1, 0, 0, 0, 0)))
show("odd-even listwise (half sums)", {
  r <- cor(rowSums(xl[, c(1, 3, 5, 7)]), rowSums(xl[, c(2, 4, 6, 8)])); c(r = r, spearman_brown = 2 * r / (1 + r))
})
show("smc of cov2cor(C)", smc(cov2cor(C)))
