"""Training: skills courses and employment follow-up for members of exiting households (BRIEF items 5,
11 and 12): referrals, enrolment within capacity, attendance, completion, employment, figures."""
