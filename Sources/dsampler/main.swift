import ArgumentParser
import Experiments

DSampler.main()
