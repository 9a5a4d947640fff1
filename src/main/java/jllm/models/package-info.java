/**
 * The models of the seed documents, written with the public tensor / nn / functional API only,
 * as a PyTorch user would write them.
 */
package jllm.models;
