"""From board to grades: late rules, the gradebook, the scoring history, Kaggle's
leaderboard reconciliation.
"""
