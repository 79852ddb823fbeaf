"""Register-level emulations of the bar's chips, fed by the simulator: the test double for the
real drivers, so `barbell edge --sensor emulated` and the tests run the code a Pi runs."""
