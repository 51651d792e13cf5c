"""What the tests share, in one place: no test module imports another.

`cli` runs the CLI and validates its JSON, `golden` holds the exact expected outputs, `factory` builds a
`CheckInput` in memory for the rule tests, `trees` gives the reader tests small trees and the captures as
copies, `hostile` runs the CLI as root and as `nobody`, `lint_configs` holds the guest configurations the
lint tests share, `fuzzing` the example counts of the property tests.
"""
