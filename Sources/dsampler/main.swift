import ArgumentParser
import Experiments
import Numerics

Memory.keepFreedMemory()
DSampler.main()
