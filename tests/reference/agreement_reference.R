# Reference numbers for tests/test_agreement.py.
# Run: Rscript tests/reference/agreement_reference.R   (R 4.x, psych 2.2.9)
# The printed values are pasted into the tests; R is not needed to run them.
library(psych)
options(digits = 12)

# --- ICC: Shrout & Fleiss (1979) table 2, 6 targets x 4 judges -----------------------
sf <- matrix(c(9, 2, 5, 8,
               6, 1, 3, 2,
               8, 4, 6, 8,
               7, 1, 2, 6,
              10, 5, 6, 9,
               6, 2, 4, 7), ncol = 4, byrow = TRUE)
print(ICC(sf, lmer = FALSE)$results)

# --- ICC: a second, 8 x 3 table with a lenient third rater ------------------------------
t2 <- matrix(c(4, 5, 5,
               2, 2, 4,
               3, 4, 4,
               5, 5, 5,
               1, 2, 3,
               3, 3, 5,
               4, 3, 5,
               2, 1, 3), ncol = 3, byrow = TRUE)
print(ICC(t2, lmer = FALSE, alpha = 0.10)$results)

# --- Cohen's kappa ----------------------------------------------------------------------
a <- c(1, 2, 3, 3, 2, 1, 4, 1, 2, 5, 4, 3, 3, 2, 1, 5, 4, 4, 2, 3)
b <- c(1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 3, 3, 4, 2, 2, 5, 4, 3, 2, 3)
ck <- cohen.kappa(cbind(a, b))                       # default weights are quadratic
print(c(kappa = ck$kappa, var = ck$var.kappa, wkappa = ck$weighted.kappa))
print(ck$confid)
lin <- 1 - abs(outer(1:5, 1:5, "-")) / 4
ckl <- cohen.kappa(cbind(a, b), w = lin)
print(c(linear_wkappa = ckl$weighted.kappa))
# levels= adds an unused code 6 (the kappas are unchanged: the weights only rescale)
ck6 <- cohen.kappa(cbind(a, b), levels = 1:6)
print(c(kappa6 = ck6$kappa, wkappa6 = ck6$weighted.kappa, var6 = ck6$var.kappa))

# Weighted-kappa variance by Fleiss, Cohen & Everitt (1969), eq. for var(kappa_w).
# (psych's var.weighted is not this formula for non-identity weights, so the
# weighted SE is checked against this direct computation.)
fce_var <- function(x, y, w, levels) {
  p <- table(factor(x, levels), factor(y, levels)); n <- sum(p); p <- p / n
  pr <- rowSums(p); pc <- colSums(p)
  po <- sum(w * p); pe <- sum(w * outer(pr, pc))
  wi <- as.vector(w %*% pc); wj <- as.vector(t(w) %*% pr)
  (sum(p * (w * (1 - pe) - outer(wi, wj, "+") * (1 - po))^2) -
     (po * pe - 2 * pe + po)^2) / (n * (1 - pe)^4)
}
quad <- 1 - outer(1:5, 1:5, "-")^2 / 16
print(c(var_quadratic = fce_var(a, b, quad, 1:5), var_linear = fce_var(a, b, lin, 1:5)))

# --- Fleiss' kappa by formula (Fleiss 1971; null SE Fleiss, Nee & Landis 1979) ---------
# 10 subjects x 5 categories, 14 raters each (the worked example of the Wikipedia
# article "Fleiss' kappa", published kappa 0.210)
nij <- matrix(c(0, 0, 0, 0, 14,
                0, 2, 6, 4, 2,
                0, 0, 3, 5, 6,
                0, 3, 9, 2, 0,
                2, 2, 8, 1, 1,
                7, 7, 0, 0, 0,
                3, 2, 6, 3, 0,
                2, 5, 3, 2, 2,
                6, 5, 2, 1, 0,
                0, 2, 2, 3, 7), ncol = 5, byrow = TRUE)
fleiss <- function(nij) {
  N <- nrow(nij); r <- sum(nij[1, ])
  pj <- colSums(nij) / (N * r); qj <- 1 - pj
  Pi <- (rowSums(nij^2) - r) / (r * (r - 1))
  Pbar <- mean(Pi); Pe <- sum(pj^2)
  k <- (Pbar - Pe) / (1 - Pe)
  se0 <- sqrt(2) / (sum(pj * qj) * sqrt(N * r * (r - 1))) *
    sqrt(sum(pj * qj)^2 - sum(pj * qj * (qj - pj)))
  c(kappa = k, Pbar = Pbar, Pe = Pe, se0 = se0)
}
print(fleiss(nij))

# --- ICC(1)/ICC(2) for aggregation: one-way ANOVA (Bliese 2000) --------------------------
g <- factor(c("A", "A", "A", "A", "B", "B", "B", "C", "C", "C", "C", "C"))
y <- c(4, 5, 4, 3, 2, 3, 2, 5, 5, 4, 5, 4)
s <- summary(aov(y ~ g))[[1]]
msb <- s[1, 3]; msw <- s[2, 3]; k <- length(y) / nlevels(g)
n0 <- (length(y) - sum(table(g)^2) / length(y)) / (nlevels(g) - 1)
print(c(msb = msb, msw = msw, F = s[1, 4], p = s[1, 5],
        icc1 = (msb - msw) / (msb + (k - 1) * msw),
        icc1_n0 = (msb - msw) / (msb + (n0 - 1) * msw),
        icc2 = (msb - msw) / msb))
