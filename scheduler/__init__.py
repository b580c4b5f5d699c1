"""Backroom's beat: the entries (`schedule`), their slots in the shop's zone (`crontab`), the
one-active-beat lock (`leader`) and the loop that claims and sends each slot once (`beat`)."""
