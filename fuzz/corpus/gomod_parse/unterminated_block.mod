module example.com/m
require (
