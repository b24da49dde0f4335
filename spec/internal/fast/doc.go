// Package fast is the speed layer of keyprov's spec language: shortcuts
// that give exactly what the general evaluation in package spec gives,
// only faster on large specs (100,000 for_each instances, a variable file
// of 100,000 tenants, a spec file of megabytes). It knows HCL and cty,
// nothing of keys.
//
// Every shortcut either answers exactly as the general way would, or
// reports false and leaves the work to it: the general way, in spec, is
// what the language means and produces every diagnostic. spec calls this
// package from one file, spec/speed.go, which holds the switch that tests
// use to run the whole spec suite without it and to compare every answer
// both ways (spec's TestMain and TestSpeedLayerChangesNothing).
//
//   - Expr, Compile, Fold: per-instance attributes of for_each blocks
//     evaluated without an HCL evaluation context; each-free parts
//     computed once per block.
//   - ToSetStrings: for_each = toset([...]) without sorting a cty set.
//   - StringMap, StringArray, VarFile: flat JSON (secrets files, variable
//     files) read in one pass.
//   - Convert: collections of like primitive values converted directly.
//   - NestingBound, ParseNative: a large spec file measured on its bytes
//     and parsed in parts, in parallel.
//   - DecodeCache: jsondecode of a large input once per evaluation.
//   - Each, Both, Background: work spread across cores.
package fast
