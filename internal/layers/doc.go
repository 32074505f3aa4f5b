// Package layers holds no code: its test checks that the module's imports
// point inward (see layers_test.go), so that the rule holds by test rather
// than by review.
package layers
