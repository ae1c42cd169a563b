# Reference values for tests/dif/test_mantel_haenszel.py and tests/dif/test_logistic.py.
# Data: dif_binary.csv and dif_ordinal.csv written by dif_make_data.py.
# Run from the repository root:  Rscript tests/reference/dif_reference.R > tests/reference/dif_reference.out
# R 4.x, base stats and MASS (recommended package) only.
suppressPackageStartupMessages(library(MASS))
options(digits = 12)

binary <- read.csv("tests/reference/dif_binary.csv")
ordinal <- read.csv("tests/reference/dif_ordinal.csv")

cat("## Mantel-Haenszel, binary items, matching on the total score (studied item included)\n")
items <- paste0("b", 1:6)
S <- rowSums(binary[, items])
grp <- factor(binary$group, levels = c("r", "f"))
for (it in items) {
  # rows: reference, focal; columns: correct, incorrect -> estimate is alpha_MH
  tab <- table(grp, factor(binary[[it]], levels = c(1, 0)), S)
  tab <- tab[, , apply(tab, 3, sum) >= 2, drop = FALSE]
  mc <- mantelhaen.test(tab, correct = TRUE)
  mu <- mantelhaen.test(tab, correct = FALSE)
  log_se <- (log(mc$conf.int[2]) - log(mc$estimate)) / qnorm(0.975)
  cat(sprintf("MH %s chi2_cc=%.10f chi2=%.10f alpha=%.10f log_se=%.10f p_cc=%.10g\n",
              it, mc$statistic, mu$statistic, mc$estimate, log_se, mc$p.value))
}

cat("## Generalized MH (mantelhaen.test on 2 x 4 x K) and Mantel (1963) score test, ordinal items\n")
oitems <- paste0("o", 1:4)
So <- rowSums(ordinal[, oitems])
ogrp <- factor(ordinal$group, levels = c("r", "f"))
for (it in oitems) {
  tab <- table(ogrp, factor(ordinal[[it]], levels = 0:3), So)
  tab <- tab[, , apply(tab, 3, sum) >= 2, drop = FALSE]
  gm <- mantelhaen.test(tab)
  # Mantel (1963): focal sum of scores against its expectation, scores 0..3
  y <- 0:3
  num <- 0; ex <- 0; v <- 0
  for (k in seq_len(dim(tab)[3])) {
    t <- tab[, , k]; N <- sum(t); nR <- sum(t[1, ]); nF <- sum(t[2, ]); m <- colSums(t)
    if (nR == 0 || nF == 0) next
    num <- num + sum(y * t[2, ]); ex <- ex + nF * sum(y * m) / N
    v <- v + nR * nF / (N^2 * (N - 1)) * (N * sum(y^2 * m) - sum(y * m)^2)
  }
  cat(sprintf("GMH %s chi2=%.10f df=%d mantel=%.10f\n", it, gm$statistic, gm$parameter, (num - ex)^2 / v))
}

nagelkerke <- function(ll, ll0, n) (1 - exp(2 * (ll0 - ll) / n)) / (1 - exp(2 * ll0 / n))

cat("## Logistic regression DIF, binary items (glm), total score, G = 1 for focal 'f'\n")
G <- as.numeric(binary$group == "f")
n <- nrow(binary)
for (it in items) {
  yv <- binary[[it]]
  m0 <- glm(yv ~ 1, family = binomial)
  m1 <- glm(yv ~ S, family = binomial)
  m2 <- glm(yv ~ S + G, family = binomial)
  m3 <- glm(yv ~ S * G, family = binomial)
  l <- sapply(list(m0, m1, m2, m3), function(m) as.numeric(logLik(m)))
  r2 <- nagelkerke(l[2:4], l[1], n)
  cat(sprintf("LR %s ll1=%.10f ll2=%.10f ll3=%.10f r2_1=%.12f r2_2=%.12f r2_3=%.12f coef_group=%.10f\n",
              it, l[2], l[3], l[4], r2[1], r2[2], r2[3], coef(m2)["G"]))
}

cat("## Ordinal logistic DIF (MASS::polr, logistic link), total score\n")
Go <- as.numeric(ordinal$group == "f")
n <- nrow(ordinal)
for (it in oitems) {
  yv <- factor(ordinal[[it]], levels = 0:3, ordered = TRUE)
  counts <- table(yv)
  ll0 <- sum(counts * log(counts / n))
  m1 <- polr(yv ~ So, method = "logistic")
  m2 <- polr(yv ~ So + Go, method = "logistic")
  m3 <- polr(yv ~ So * Go, method = "logistic")
  l <- sapply(list(m1, m2, m3), function(m) as.numeric(logLik(m)))
  r2 <- nagelkerke(l, ll0, n)
  cat(sprintf("POLR %s ll0=%.10f ll1=%.10f ll2=%.10f ll3=%.10f r2_1=%.12f r2_2=%.12f r2_3=%.12f coef_group=%.10f\n",
              it, ll0, l[1], l[2], l[3], r2[1], r2[2], r2[3], coef(m2)["Go"]))
}

cat("## p.adjust\n")
p <- c(0.001, 0.04, 0.03, 0.2, 0.011, 0.5)
cat("holm", sprintf("%.12f", p.adjust(p, "holm")), "\n")
cat("BH", sprintf("%.12f", p.adjust(p, "BH")), "\n")
